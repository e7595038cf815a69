#!/bin/sh
# A compromised web server, rolled back. The guest serves a page on Amber's default network, published on
# the host's port 8080; a client in a network namespace of its own reaches it through the published port.
# Snapshot; the "attacker" (told through a port the guest listens on) rewrites the page and opens a second
# listener; `amber rollback`: the original page is served again at the same address and through the
# published port, and the attacker's port is closed.
. "$GUEST_TESTS_LIB"
require_amber
cat >guest.sh <<'G'
n=0; while [ ! -s /run/amber-address ] && [ $n -lt 240 ]; do sleep 1; n=$((n + 1)); done
[ -s /run/amber-address ] || { echo "NO-ADDRESS"; cat /run/udhcpc.log; exit 1; }
mkdir -p /www && echo "the original page" >/www/index.html
httpd -p 80 -h /www
echo "SERVING $(cat /run/amber-address)"
nc -l -p 9000 >/dev/null
echo "defaced" >/www/index.html
mkdir -p /evil && echo "the attacker's listener" >/evil/index.html
httpd -p 4444 -h /evil
echo "COMPROMISED"
while :; do sleep 1; done
G
# The client: a network namespace joined to the host by a veth pair, as another machine would be.
$IP netns add client || fail "cannot create the client's network namespace"
$IP link add vclient0 type veth peer name vclient1 netns client
$IP addr add 10.99.0.1/24 dev vclient0 && $IP link set vclient0 up
$IP -n client addr add 10.99.0.2/24 dev vclient1 && $IP -n client link set vclient1 up && $IP -n client link set lo up
client_fetch() { $IP netns exec client /bin/busybox timeout 5 /bin/busybox wget -q -O - "http://10.99.0.1:8080/" 2>/dev/null; }
stop_all() { amber stop web >/dev/null 2>&1; $IP netns del client 2>/dev/null; }

start_guest web guest.sh run.log --net default --publish 8080:80
wait_console web SERVING "$GUEST_TIMEOUT" || { amber logs web >console.log 2>&1; show console.log; stop_all; fail "the guest never served"; }
address="$(console_value web SERVING)"
[ "$(fetch "http://$address/")" = "the original page" ] || { stop_all; fail "the guest's page at $address is not the original"; }
wait_for 60 client_fetch >/dev/null || { stop_all; fail "the published port 8080 did not reach the guest from the client"; }
amber snapshot take web --label clean >snap.log 2>&1 || { show snap.log; stop_all; fail "amber snapshot take failed"; }

echo compromise | nc -w 10 "$address" 9000
wait_console web COMPROMISED 120 || { stop_all; fail "the guest was not told to deface itself"; }
[ "$(fetch "http://$address/")" = "defaced" ] || { stop_all; fail "the page was not defaced"; }
[ "$(fetch "http://$address:4444/")" = "the attacker's listener" ] || { stop_all; fail "the attacker's listener did not answer"; }

amber rollback web --to clean >rollback.log 2>&1 || { show rollback.log; stop_all; fail "amber rollback failed"; }
page=""
deadline=$(( $(date +%s) + 120 ))
while [ "$page" != "the original page" ] && [ "$(date +%s)" -lt "$deadline" ]; do
    page="$(timeout 5 wget -q -O - "http://$address/" 2>/dev/null)" || usleep 500000
done
[ "$page" = "the original page" ] || { stop_all; fail "after the rollback $address served '$page', not the original page"; }
refused "$address" 4444 || { stop_all; fail "the attacker's port 4444 still answers after the rollback"; }
[ "$(client_fetch)" = "the original page" ] || { stop_all; fail "the published port does not serve the original page after the rollback"; }
stop_all
# Bridges are the machine's, not the scenario's home's: leave none for the next scenario.
amber rm web >/dev/null 2>&1 || fail "amber rm web failed"
amber network rm default >rm.log 2>&1 || { show rm.log; fail "amber network rm default failed"; }
echo "network-rollback: the defaced server was rolled back; same address, published port works, attacker's port closed"
