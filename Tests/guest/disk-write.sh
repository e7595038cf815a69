#!/bin/sh
# What the guest writes to /dev/vda is in the raw image file after the guest powers off.
. "$GUEST_TESTS_LIB"
require_amber
truncate -s 16M disk.img
cat >guest.sh <<'G'
echo "amber-disk-marker-$(echo 4242)" | dd of=/dev/vda bs=512 seek=2048 conv=sync,fsync 2>/dev/null || echo "guest: write failed"
echo "guest wrote the marker"
G
run_guest diskw guest.sh boot.log --disk "$PWD/disk.img" || { code=$?; show boot.log; fail "amber run exited $code"; }
dd if=disk.img bs=512 skip=2048 count=1 2>/dev/null | grep -q "amber-disk-marker-4242" \
    || { show boot.log; fail "the marker written by the guest at sector 2048 is not in disk.img"; }
expect_in boot.log "guest wrote the marker"
echo "marker found at sector 2048 of the raw image"
