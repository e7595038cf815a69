#!/bin/sh
# amberd with a Linux guest: a policy that snapshots the VM every 10 s and keeps only the newest snapshots the
# running guest on schedule, prunes the older policy snapshot after each new one, never touches a snapshot
# taken by hand, records its runs for `amber policy status`, and exits 0 on SIGTERM; the guest runs on.
. "$GUEST_TESTS_LIB"
require_amber
command -v amberd >/dev/null || fail "amberd is not on PATH"
truncate -s 16M disk.img
cat >guest.sh <<'G'
i=1
while :; do
    echo "tick $i"
    i=$((i + 1)); usleep 500000
done
G
start_guest pol guest.sh run.log --disk "$PWD/disk.img"
daemon=""
stop_all() { [ -z "$daemon" ] || kill "$daemon" 2>/dev/null; amber stop pol >/dev/null 2>&1; }
wait_console pol "tick 3" "$GUEST_TIMEOUT" || { amber logs pol >console.log 2>&1; show console.log; stop_all; fail "the guest never reached tick 3"; }
amber snapshot take pol --label by-hand >hand.log 2>&1 || { show hand.log; stop_all; fail "amber snapshot failed"; }

mkdir policies
cat >policies/pol.yaml <<'P'
name: every-10s
vms: [pol]
schedule: "*:*:0/10"
memory: true
keep: { last: 1 }
P
export AMBER_POLICIES="$PWD/policies"
amber policy check >check.log 2>&1 || { show check.log; stop_all; fail "amber policy check refused the policy"; }
amberd 2>amberd.log &
daemon=$!
pruned() { grep -q "pruned snapshot .* of VM pol" amberd.log; }
wait_for 300 pruned || { show amberd.log; stop_all; fail "amberd did not take two snapshots and prune the first within 300 s"; }
kill -TERM "$daemon"
if wait "$daemon"; then code=0; else code=$?; fi
daemon=""
[ "$code" -eq 0 ] || { show amberd.log; stop_all; fail "amberd exited $code on SIGTERM, not 0"; }

taken="$(grep -c "snapshot [0-9a-f]* of VM pol taken" amberd.log)"
[ "$taken" -ge 2 ] || { show amberd.log; stop_all; fail "amberd logged $taken snapshots, expected at least 2"; }
amber snapshot ls pol >list.log
rows="$(tail -n +2 list.log | grep -c .)"
hand="$(grep -c " by-hand " list.log)"
[ "$rows" -eq 2 ] && [ "$hand" -eq 1 ] || { show list.log; stop_all; fail "expected the snapshot by hand and the newest policy snapshot, found $rows rows"; }
amber policy status >status.log
expect_in status.log "every-10s / pol: last run "
state="$(vm_state pol)"
[ "$state" = running ] || { stop_all; fail "after amberd the VM is '$state', not running"; }
last="$(amber logs pol | tr -d '\r' | sed -n 's/^tick \([0-9]*\)$/\1/p' | tail -n1)"
wait_console pol "tick $((last + 2))" "$GUEST_TIMEOUT" || { stop_all; fail "the guest did not run on after amberd"; }
amber stop pol >/dev/null
echo "amberd took $taken snapshots of the running guest and pruned all but the newest; the one by hand stays; SIGTERM -> exit 0"
