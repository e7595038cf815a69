#!/bin/sh
# `reboot -f` in the guest ends `amber run` (Firecracker's semantics) with "guest rebooted".
. "$GUEST_TESTS_LIB"
require_amber
cat >guest.sh <<'G'
echo "guest rebooting"
reboot -f
G
run_guest reboot guest.sh boot.log || { code=$?; show boot.log; fail "amber run exited $code after the guest rebooted"; }
expect_in boot.log "guest rebooting"
expect_in boot.log "guest rebooted"
no_vmm_left "the guest rebooted"
echo "amber run ended with exit 0"
