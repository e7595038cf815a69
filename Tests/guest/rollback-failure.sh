#!/bin/sh
# A rollback whose restoring amber-vmm dies (killed here the moment it appears, as a crash or a snapshot
# KVM refuses would end it) costs the running Linux guest nothing: `amber rollback` fails with one line, the
# same amber-vmm goes on, the guest keeps counting, and its disk keeps the counts written after the snapshot
# and before the rollback (the overlay was set aside, not discarded).
. "$GUEST_TESTS_LIB"
require_amber
truncate -s 16M disk.img
cat >guest.sh <<'G'
i=1
while [ $i -le 100000 ]; do
    echo "count $i"
    echo "count $i" | dd of=/dev/vda bs=512 seek=$i conv=sync,fsync 2>/dev/null
    i=$((i + 1)); usleep 300000
done
G
start_guest rf guest.sh run.log --disk "$PWD/disk.img"
stop_all() { amber stop rf >/dev/null 2>&1; }
wait_console rf "count 5" "$GUEST_TIMEOUT" || { stop_all; fail "the guest never reached count 5"; }
last_count() { amber logs rf 2>/dev/null | tr -d '\r' | sed -n 's/^count \([0-9]*\)$/\1/p' | tail -n1; }

amber snapshot take rf --json >snap.json 2>snap.err || { show snap.err; stop_all; fail "amber snapshot failed"; }
id="$(tr -d ' \n' <snap.json | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')"
[ -n "$id" ] || { cat snap.json; stop_all; fail "no snapshot id in amber snapshot --json"; }
snapshot_count="$(last_count)"
running="$(vmm_pids)"

failed=0
for attempt in 1 2 3 4 5; do
    target=$(( $(last_count) + 5 ))
    wait_console rf "count $target" "$GUEST_TIMEOUT" || { stop_all; fail "the guest did not count on to $target"; }
    before="$(last_count)"
    amber rollback rf --to "$id" >rollback.out 2>rollback.err &
    rollback=$!
    # Kill every amber-vmm but the running one while the rollback is under way (bounded: 60 s). pidof is one
    # process per look (this scenario runs alone in the nested machine: every amber-vmm is its own).
    deadline=$(( $(date +%s) + 60 ))
    while kill -0 "$rollback" 2>/dev/null && [ "$(date +%s)" -lt "$deadline" ]; do
        for pid in $(pidof amber-vmm); do [ "$pid" = "$running" ] || kill -9 "$pid" 2>/dev/null; done
    done
    wait "$rollback"; code=$?
    if [ "$code" -eq 0 ]; then
        # The new amber-vmm answered before it could be killed: the VM runs from the snapshot, unless the
        # kill landed after it answered (then it is stopped, and a rollback without kills restarts it).
        if [ "$(vm_state rf)" != running ]; then
            amber rollback rf --to "$id" >/dev/null 2>rollback.err || { show rollback.err; fail "the restart of the stopped VM failed"; }
        fi
        running="$(pidof amber-vmm)"
        wait_console rf "count" "$GUEST_TIMEOUT" || { stop_all; fail "the guest does not count after the rollback"; }
        echo "attempt $attempt: the rollback won the race (the VM runs from the snapshot); again"
        continue
    fi
    [ "$(grep -c . rollback.err)" -eq 1 ] || { show rollback.err; stop_all; fail "not one error line"; }
    grep -q "failed, and VM rf is back as it was" rollback.err || { show rollback.err; stop_all; fail "the error does not say the VM is back"; }
    [ "$(vmm_pids)" = "$running" ] || { stop_all; fail "amber-vmm changed from $running to '$(vmm_pids)' after a failed rollback"; }
    [ "$(vm_state rf)" = running ] || { stop_all; fail "the VM is '$(vm_state rf)' after a failed rollback"; }
    wait_console rf "count $(( before + 3 ))" "$GUEST_TIMEOUT" || { stop_all; fail "the guest does not count on after the failed rollback"; }
    echo "attempt $attempt: $(cat rollback.err)"
    failed=$attempt
    break
done
[ "$failed" -gt 0 ] || { stop_all; fail "no rollback could be made to fail in 5 attempts"; }
[ -z "$(ls "$AMBER_HOME/vms/rf" | grep '\.replaced$')" ] || { stop_all; fail "set-aside files left behind"; }

# The counts the guest wrote after the snapshot and before the failed rollback are on its disk.
before_stop="$(last_count)"
amber stop rf >/dev/null 2>&1 || fail "amber stop failed"
wait_for 30 no_vmm_running || fail "amber-vmm still running after amber stop"
amber disk export rf exported.img >export.log 2>&1 || { show export.log; fail "amber disk export failed"; }
check=$(( before_stop - 1 ))
dd if=exported.img bs=512 skip="$check" count=1 2>/dev/null | grep -q "^count $check\$" \
    || fail "count $check (written after the failed rollback, snapshot at $snapshot_count) is not on the disk"
echo "the guest ran on from count $before to $before_stop; count $check is on its disk (snapshot taken at $snapshot_count)"
