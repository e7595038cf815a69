#!/bin/sh
# What the guest writes to /dev/vda lands in the VM's copy-on-write overlay: `amber disk export` shows it
# after the guest powers off, and the image the user passed to `amber run` is never written.
. "$GUEST_TESTS_LIB"
require_amber
truncate -s 16M disk.img
sha256sum disk.img >base.sum
cat >guest.sh <<'G'
echo "amber-disk-marker-$(echo 4242)" | dd of=/dev/vda bs=512 seek=2048 conv=sync,fsync 2>/dev/null || echo "guest: write failed"
echo "guest wrote the marker"
G
run_guest diskw guest.sh boot.log --disk "$PWD/disk.img" || { code=$?; show boot.log; fail "amber run exited $code"; }
expect_in boot.log "guest wrote the marker"
sha256sum -c base.sum >/dev/null 2>&1 || fail "amber run wrote to the base image disk.img"
amber disk export diskw exported.img >export.log 2>&1 || { show export.log; fail "amber disk export failed"; }
dd if=exported.img bs=512 skip=2048 count=1 2>/dev/null | grep -q "amber-disk-marker-4242" \
    || { show boot.log; fail "the marker written by the guest at sector 2048 is not in the exported disk"; }
[ "$(stat -c %s exported.img)" = "$(stat -c %s disk.img)" ] || fail "the exported disk's size differs from the base's"
echo "marker found at sector 2048 of the exported disk; the base image is unchanged"
