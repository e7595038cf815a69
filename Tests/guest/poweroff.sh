#!/bin/sh
# `poweroff -f` in the guest ends `amber run` with exit 0 and "guest powered off".
. "$GUEST_TESTS_LIB"
require_amber
cat >guest.sh <<'G'
echo "guest powering off"
poweroff -f
G
run_guest off guest.sh boot.log || { code=$?; show boot.log; fail "amber run exited $code after the guest powered off"; }
expect_in boot.log "guest powering off"
expect_in boot.log "guest powered off"
no_vmm_left "the guest powered off"
echo "amber run exited 0"
