#!/bin/sh
# A Linux guest on one of Amber's networks: it gets its static address from the network's dnsmasq, fetches a
# page from the host through the bridge, and serves a page (busybox httpd) that the host fetches at the
# address `amber ps --json` reports. `amber network rm` is refused while the VM uses the network and removes
# the bridge, nft table and dnsmasq afterwards.
. "$GUEST_TESTS_LIB"
require_amber
amber network create lab --subnet 10.77.0.0/24 >create.log 2>&1 || { show create.log; fail "amber network create lab failed"; }
mkdir -p host-www && echo "hello from the host" >host-www/host.txt
httpd -p 10.77.0.1:8081 -h "$PWD/host-www" || fail "cannot start the host's httpd on the bridge address"
cat >guest.sh <<'G'
n=0; while [ ! -s /run/amber-address ] && [ $n -lt 240 ]; do sleep 1; n=$((n + 1)); done
[ -s /run/amber-address ] || { echo "NO-ADDRESS"; cat /run/udhcpc.log; exit 1; }
echo "ADDRESS $(cat /run/amber-address)"
echo "HOST-SAYS $(timeout 10 wget -q -O - http://10.77.0.1:8081/host.txt)"
mkdir -p /www && echo "served by the guest" >/www/index.html
httpd -p 80 -h /www && echo "SERVING"
while :; do sleep 1; done
G
stop_all() { amber stop web >/dev/null 2>&1; }
start_guest web guest.sh run.log --net lab
wait_console web SERVING "$GUEST_TIMEOUT" || { amber logs web >console.log 2>&1; show console.log; stop_all; fail "the guest never served"; }
amber logs web >console.log
address="$(console_value web ADDRESS)"
expect_in console.log "HOST-SAYS hello from the host"
amber ps --json >ps.json
tr -d ' \n' <ps.json | grep -q "\"$address\"" || { show ps.json; stop_all; fail "amber ps --json does not show the guest's address $address"; }
page="$(fetch "http://$address/")" || { stop_all; fail "the guest's page at $address did not answer"; }
[ "$page" = "served by the guest" ] || { stop_all; fail "the guest served '$page'"; }

amber network rm lab >rm-busy.log 2>&1 && { stop_all; fail "amber network rm removed a network in use"; }
expect_in rm-busy.log "in use"
stop_all
amber rm web >/dev/null 2>&1 || fail "amber rm web failed"
amber network rm lab >rm.log 2>&1 || { show rm.log; fail "amber network rm lab failed once no VM used it"; }
$IP link show amber-lab >/dev/null 2>&1 && fail "the removed network's bridge amber-lab is left"
nft list tables | grep -q lab && { nft list tables; fail "the removed network's nft table is left"; }
echo "network: the guest got its address, reached the host and served a page; the network was removed"
