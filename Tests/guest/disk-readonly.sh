#!/bin/sh
# A disk given as PATH:ro refuses the guest's writes, and the image file stays unchanged.
. "$GUEST_TESTS_LIB"
require_amber
truncate -s 16M disk.img
echo "original-content" | dd of=disk.img conv=notrunc 2>/dev/null
before="$(sha256sum disk.img | cut -d' ' -f1)"
cat >guest.sh <<'G'
head -c 16 /dev/vda | grep -q original-content && echo "guest read the disk"
if echo overwritten | dd of=/dev/vda bs=512 conv=sync,fsync 2>/dev/null; then echo "guest write accepted"; else echo "guest write refused"; fi
G
run_guest diskro guest.sh boot.log --disk "$PWD/disk.img:ro" || { code=$?; show boot.log; fail "amber run exited $code"; }
[ "$(sha256sum disk.img | cut -d' ' -f1)" = "$before" ] || { show boot.log; fail "the read-only image changed"; }
expect_in boot.log "guest read the disk"
expect_in boot.log "guest write refused"
echo "write refused, image unchanged"
