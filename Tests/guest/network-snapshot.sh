#!/bin/sh
# A snapshot taken while a TCP transfer runs: the guest downloads 128 MiB from the host (busybox httpd on the
# bridge) while `amber snapshot take` pauses it; the download completes with the right bytes (TCP carries on
# across the pause). A rollback to that snapshot restores a guest in the middle of that download (the host's side
# of the connection is long gone, so the guest's connection is reset) whose NIC works: it serves a page again.
. "$GUEST_TESTS_LIB"
require_amber
amber network create lab2 --subnet 10.78.0.0/24 >create.log 2>&1 || { show create.log; fail "amber network create failed"; }
mkdir -p host-www && dd if=/dev/urandom of=host-www/payload bs=1M count=128 2>/dev/null
expected="$(md5sum <host-www/payload | cut -d' ' -f1)"
httpd -p 10.78.0.1:8081 -h "$PWD/host-www" || fail "cannot start the host's httpd on the bridge address"
cat >guest.sh <<'G'
n=0; while [ ! -s /run/amber-address ] && [ $n -lt 240 ]; do sleep 1; n=$((n + 1)); done
mkdir -p /www && echo "still serving" >/www/index.html && httpd -p 80 -h /www
echo "SERVING $(cat /run/amber-address)"
nc -l -p 9000 >/dev/null
echo "DOWNLOADING"
sum="$(wget -q -O - http://10.78.0.1:8081/payload | md5sum | cut -d' ' -f1)"
echo "RECEIVED $sum"
while :; do sleep 1; done
G
stop_all() { amber stop web >/dev/null 2>&1; }
start_guest web guest.sh run.log --net lab2
wait_console web SERVING "$GUEST_TIMEOUT" || { amber logs web >console.log 2>&1; show console.log; stop_all; fail "the guest never served"; }
address="$(console_value web SERVING)"
echo go | nc -w 10 "$address" 9000
wait_console web DOWNLOADING 120 || { stop_all; fail "the guest did not start its download"; }
amber snapshot take web --label mid-transfer >snap.log 2>&1 || { show snap.log; stop_all; fail "amber snapshot take failed during the transfer"; }
# Under the nested machine's TCG the download takes seconds: it must still be running when the snapshot is done,
# or this scenario shows nothing about a transfer across a snapshot.
amber logs web | grep -q "^RECEIVED" && { stop_all; fail "the download ended before the snapshot was taken"; }
wait_console web RECEIVED 300 || { stop_all; fail "the download did not finish after the snapshot"; }
amber logs web >console.log
received="$(console_value web RECEIVED)"
[ "$received" = "$expected" ] || { show console.log; stop_all; fail "the guest received bytes with md5 $received, the host sent $expected"; }

amber rollback web --to mid-transfer >rollback.log 2>&1 || { show rollback.log; stop_all; fail "amber rollback to the mid-transfer snapshot failed"; }
[ "$(fetch "http://$address/" 120)" = "still serving" ] || { stop_all; fail "the guest restored mid-transfer does not serve at $address"; }
stop_all
# Bridges are the machine's, not the scenario's home's: leave none for the next scenario.
amber rm web >/dev/null 2>&1 || fail "amber rm web failed"
amber network rm lab2 >rm.log 2>&1 || { show rm.log; fail "amber network rm lab2 failed"; }
echo "network-snapshot: the transfer across the snapshot arrived intact (md5 $expected); the restored guest's NIC works"
