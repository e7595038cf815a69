#!/bin/sh
# Snapshots of a Linux guest that writes its disk as fast as it can (random data over its first 4 MiB,
# round after round): what each snapshot stores is what it hashed. `amber store verify` finds every chunk
# sound, and the VM's disk after a rollback to the last snapshot exports whole.
. "$GUEST_TESTS_LIB"
require_amber
truncate -s 16M disk.img
cat >guest.sh <<'G'
echo "writer starts"
round=1
while [ $round -le 1000 ]; do
    dd if=/dev/urandom of=/dev/vda bs=64k count=64 conv=fsync 2>/dev/null
    echo "round $round"
    round=$((round + 1))
done
G
start_guest busy guest.sh run.log --disk "$PWD/disk.img"
stop_all() { amber stop busy >/dev/null 2>&1; }
wait_console busy "writer starts" "$GUEST_TIMEOUT" || { stop_all; fail "the guest never started writing"; }
for n in 1 2 3; do
    amber snapshot take busy --label "busy-$n" >snap-$n.log 2>&1 || { show snap-$n.log; stop_all; fail "snapshot $n of the busy guest failed"; }
    wait_console busy "round $n" "$GUEST_TIMEOUT" || { stop_all; fail "the guest did not write on after snapshot $n"; }
done
amber store verify --json >verify.json 2>verify.err || { show verify.json; show verify.err; stop_all; fail "amber store verify found bad chunks after snapshots of a busy disk"; }
echo "3 snapshots of a guest writing its disk; amber store verify: $(tr -d ' \n' <verify.json | cut -c1-160)"
# The snapshot named by its label, as a user types it.
amber rollback busy --to busy-3 >rollback.log 2>&1 \
    || { show rollback.log; stop_all; fail "the rollback to the last snapshot failed"; }
stop_all
wait_for 30 no_vmm_running || fail "amber-vmm still running after amber stop"
amber disk export busy exported.img >export.log 2>&1 || { show export.log; fail "amber disk export after the rollback failed"; }
[ "$(stat -c %s exported.img)" = 16777216 ] || fail "the exported disk is $(stat -c %s exported.img) bytes, not 16 MiB"
echo "the rolled-back disk exports whole"
