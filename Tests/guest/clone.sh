#!/bin/sh
# Clones of a running Linux guest: three clones of one snapshot each continue from the snapshot's count,
# with no boot, independently; what one clone writes to its disk is seen neither by the origin nor by
# the other clones.
. "$GUEST_TESTS_LIB"
require_amber
truncate -s 16M disk.img
cat >guest.sh <<'G'
echo "counter starts"
i=1
while [ $i -le 100000 ]; do
    echo "count $i"
    echo "count $i" | dd of=/dev/vda bs=512 seek=$i conv=sync,fsync 2>/dev/null
    i=$((i + 1)); usleep 300000
done
G
clones="c1 c2 c3"
stop_all() { for vm in origin $clones; do amber stop "$vm" >/dev/null 2>&1; done; }
start_guest origin guest.sh run.log --disk "$PWD/disk.img"
wait_console origin "count 5" "$GUEST_TIMEOUT" || { amber logs origin >console.log 2>&1; show console.log; stop_all; fail "the guest never reached count 5"; }
amber logs origin >before.log
amber snapshot take origin --json >snap.json 2>snap.err || { show snap.err; stop_all; fail "amber snapshot failed"; }
amber logs origin >after.log
count_of() { tr -d '\r' | sed -n 's/^count \([0-9]*\)$/\1/p'; }
low="$(count_of <before.log | tail -n1)" high="$(count_of <after.log | tail -n1)"
id="$(tr -d ' \n' <snap.json | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')"

# The origin stays paused from here on, so what it has on disk stops where the snapshot was.
amber pause origin >/dev/null
origin_now="$(amber logs origin | count_of | tail -n1)"
for vm in $clones; do
    amber clone "$id" --name "$vm" --detach >"clone-$vm.log" 2>&1 || { show "clone-$vm.log"; stop_all; fail "amber clone $id --name $vm failed"; }
done
for vm in $clones; do
    wait_console "$vm" "count " 120 || { stop_all; fail "clone $vm printed no count"; }
    # c1 runs on; c2 and c3 are held where they are.
    [ "$vm" = c1 ] || amber pause "$vm" >/dev/null
    first="$(amber logs "$vm" | count_of | head -n1)"
    [ "$first" -gt "$low" ] && [ "$first" -le $((high + 1)) ] \
        || { stop_all; fail "clone $vm counted from $first; the snapshot was taken between counts $low and $high"; }
    if amber logs "$vm" | grep -q "counter starts"; then stop_all; fail "clone $vm booted instead of continuing"; fi
done
latest=$origin_now
for vm in c2 c3; do
    last="$(amber logs "$vm" | count_of | tail -n1)"
    [ "$last" -gt "$latest" ] && latest=$last
done
mark=$((latest + 3))
wait_console c1 "count $mark" 120 || { stop_all; fail "clone c1 did not reach count $mark"; }
amber pause c1 >/dev/null
sector() { dd if="$1" bs=512 skip="$2" count=1 2>/dev/null | tr -d '\0' | head -n1; }
for vm in c1 c2 c3 origin; do
    amber disk export "$vm" "$vm.img" >"export-$vm.log" 2>&1 || { show "export-$vm.log"; stop_all; fail "amber disk export $vm failed"; }
done
[ "$(sector c1.img "$mark")" = "count $mark" ] || { stop_all; fail "c1's own write of count $mark is not on its disk"; }
for vm in c2 c3 origin; do
    [ -z "$(sector "$vm.img" "$mark")" ] || { stop_all; fail "$vm's disk holds '$(sector "$vm.img" "$mark")' at sector $mark: it sees clone c1's write"; }
    [ "$(sector "$vm.img" 1)" = "count 1" ] || { stop_all; fail "$vm's disk lost the snapshot's sector 1"; }
done
stop_all
echo "3 clones of snapshot $id (taken between counts $low and $high) went on from it without a boot; c1's count $mark is on c1's disk only (origin at $origin_now)"
