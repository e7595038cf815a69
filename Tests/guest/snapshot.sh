#!/bin/sh
# Snapshots of a running Linux guest: each pauses the guest only while its memory and disk are read, the
# guest then continues with no step lost, and the catalog holds both snapshots with the second's parent
# being the first.
. "$GUEST_TESTS_LIB"
require_amber
truncate -s 16M disk.img
cat >guest.sh <<'G'
i=1
while [ $i -le 120 ]; do
    echo "tick $i"
    echo "tick $i" | dd of=/dev/vda bs=512 seek=$i conv=sync,fsync 2>/dev/null
    i=$((i + 1)); usleep 100000
done
echo "loop done"
G
start_guest snap guest.sh run.log --disk "$PWD/disk.img"
wait_console snap "tick 5" "$GUEST_TIMEOUT" || { amber logs snap >console.log 2>&1; show console.log; amber stop snap; fail "the guest never reached tick 5"; }
amber snapshot take snap --label first >snap-1.log 2>&1 || { show snap-1.log; amber stop snap; fail "the first amber snapshot failed"; }
expect_in snap-1.log "snapshot "
state="$(vm_state snap)"
[ "$state" = running ] || { amber stop snap; fail "after the snapshot amber ps says '$state', not running"; }
wait_console snap "tick 20" "$GUEST_TIMEOUT" || { amber stop snap; fail "the guest did not continue after the first snapshot"; }
amber snapshot take snap --label second >snap-2.log 2>&1 || { show snap-2.log; amber stop snap; fail "the second amber snapshot failed"; }
cat snap-1.log snap-2.log
amber snapshot ls snap --json | tr -d ' \n' >list.json
first="$(sed -n 's/.*"id":"\([0-9a-f]*\)"[^}]*"label":"first".*/\1/p' list.json)"
[ -n "$first" ] || { cat list.json; fail "amber snapshots lists no snapshot labelled first"; }
grep -q "\"parent\":\"$first\"" list.json || { cat list.json; fail "the second snapshot's parent is not the first ($first)"; }
amber snapshot ls snap
wait_console snap "loop done" "$GUEST_TIMEOUT" || { amber logs snap >console.log 2>&1; show console.log; amber stop snap; fail "the loop did not finish after the snapshots"; }
wait_for 60 no_vmm_running || { amber stop snap; fail "amber-vmm did not exit after the guest powered off"; }
amber logs snap | tr -d '\r' | grep '^tick ' >ticks.log
seq 1 120 | sed 's/^/tick /' >expected.log
cmp -s ticks.log expected.log || { diff expected.log ticks.log >&2; fail "ticks lost or repeated across the snapshots"; }
echo "two snapshots, parent linked; all 120 ticks present, in order"
