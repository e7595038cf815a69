#!/bin/sh
# Pausing in the middle of a guest loop stops its progress; resuming continues it and no step is lost.
. "$GUEST_TESTS_LIB"
require_amber
cat >guest.sh <<'G'
i=1
while [ $i -le 150 ]; do echo "tick $i"; i=$((i + 1)); usleep 100000; done
echo "loop done"
G
start_guest pr guest.sh run.log
wait_console pr "tick 10" "$GUEST_TIMEOUT" || { amber logs pr >console.log 2>&1; show console.log; show "$AMBER_HOME/vms/pr/vmm.log"; amber stop pr; fail "the guest never reached tick 10"; }
amber pause pr || { code=$?; amber stop pr; fail "amber pause exited $code"; }
[ "$(vm_state pr)" = paused ] || { amber stop pr; fail "amber ps says '$(vm_state pr)', not paused"; }
amber logs pr >paused-1.log
sleep 5
amber logs pr >paused-2.log
cmp -s paused-1.log paused-2.log || { amber stop pr; fail "the console grew while paused"; }
ticks_at_pause="$(grep -c '^tick' paused-1.log)"
[ "$ticks_at_pause" -lt 150 ] || fail "the loop had finished before the pause; nothing was tested"
echo "paused at $ticks_at_pause ticks, no progress in 5 s"
amber resume pr || { code=$?; amber stop pr; fail "amber resume exited $code"; }
wait_console pr "loop done" "$GUEST_TIMEOUT" || { amber logs pr >console.log 2>&1; show console.log; amber stop pr; fail "the loop did not finish after resume"; }
wait_for 60 no_vmm_running || { amber stop pr; fail "amber-vmm did not exit after the guest powered off"; }
amber logs pr | tr -d '\r' | grep '^tick ' >ticks.log
seq 1 150 | sed 's/^/tick /' >expected.log
cmp -s ticks.log expected.log || { diff expected.log ticks.log >&2; fail "ticks lost or repeated across pause/resume"; }
echo "all 150 ticks present, in order"
