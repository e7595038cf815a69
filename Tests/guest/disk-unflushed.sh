#!/bin/sh
# Writes the guest was told completed survive every clean end of the VM even when the guest never sent a
# FLUSH (`sync` on a raw block device sends none): a power-off, and `amber stop` of a running guest. Each is
# in `amber disk export` and in the disk the next `amber run` of the VM sees.
. "$GUEST_TESTS_LIB"
require_amber
truncate -s 16M disk.img
cat >write-a.sh <<'G'
echo "amber-unflushed-A" | dd of=/dev/vda bs=512 seek=2048 conv=sync 2>/dev/null || echo "guest: write failed"
sync
echo "guest wrote A"
poweroff -f
G
run_guest unfl write-a.sh boot-a.log --disk "$PWD/disk.img" || { code=$?; show boot-a.log; fail "amber run exited $code"; }
expect_in boot-a.log "guest wrote A"
amber disk export unfl after-poweroff.img >export-a.log 2>&1 || { show export-a.log; fail "amber disk export failed"; }
dd if=after-poweroff.img bs=512 skip=2048 count=1 2>/dev/null | grep -q "amber-unflushed-A" \
    || { show boot-a.log; fail "marker A, written without FLUSH before poweroff -f, is not in the exported disk"; }
echo "marker A (no FLUSH, poweroff -f) is in the exported disk"

cat >write-b.sh <<'G'
echo "guest read: $(dd if=/dev/vda bs=512 skip=2048 count=1 2>/dev/null | tr -d '\0' | head -n1)"
echo "amber-unflushed-B" | dd of=/dev/vda bs=512 seek=4096 conv=sync 2>/dev/null || echo "guest: write failed"
sync
echo "guest wrote B"
while :; do sleep 1; done
G
start_guest unfl write-b.sh run-b.log --disk "$PWD/disk.img"
wait_console unfl "guest wrote B" "$GUEST_TIMEOUT" || { amber logs unfl >console-b.log 2>&1; show console-b.log; amber stop unfl; fail "the guest never wrote B"; }
amber logs unfl >console-b.log 2>&1
expect_in console-b.log "guest read: amber-unflushed-A"
echo "the next run of the VM reads marker A from its disk"
amber stop unfl >stop.log 2>&1 || { show stop.log; fail "amber stop failed"; }
no_vmm_left "amber stop"
amber disk export unfl after-stop.img >export-b.log 2>&1 || { show export-b.log; fail "amber disk export failed"; }
dd if=after-stop.img bs=512 skip=4096 count=1 2>/dev/null | grep -q "amber-unflushed-B" \
    || { show console-b.log; fail "marker B, written without FLUSH before amber stop, is not in the exported disk"; }
dd if=after-stop.img bs=512 skip=2048 count=1 2>/dev/null | grep -q "amber-unflushed-A" || fail "marker A is gone after the second run"
echo "marker B (no FLUSH, amber stop) is in the exported disk"

# SIGKILL is not a clean end: amber-vmm commits a changed overlay map within a second by itself, so a write
# the guest completed 2 s before the kill is on the disk.
cat >write-c.sh <<'G'
echo "amber-unflushed-C" | dd of=/dev/vda bs=512 seek=6144 conv=sync 2>/dev/null || echo "guest: write failed"
sync
echo "guest wrote C"
while :; do sleep 1; done
G
start_guest unfl write-c.sh run-c.log --disk "$PWD/disk.img"
wait_console unfl "guest wrote C" "$GUEST_TIMEOUT" || { amber logs unfl >console-c.log 2>&1; show console-c.log; amber stop unfl; fail "the guest never wrote C"; }
sleep 2
kill -9 $(vmm_pids)
wait_for 30 no_vmm_running || fail "amber-vmm still running after SIGKILL"
amber disk export unfl after-kill.img >export-c.log 2>&1 || { show export-c.log; fail "amber disk export failed"; }
dd if=after-kill.img bs=512 skip=6144 count=1 2>/dev/null | grep -q "amber-unflushed-C" \
    || fail "marker C, written without FLUSH 2 s before amber-vmm's SIGKILL, is not in the exported disk"
echo "marker C (no FLUSH, amber-vmm SIGKILLed 2 s later) is in the exported disk"
