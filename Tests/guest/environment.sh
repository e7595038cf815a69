#!/bin/sh
# The harness gives every scenario what the contract promises: a working /dev/kvm, the test guest's
# kernel (a bzImage) and initrd, and amber with amber-vmm on PATH.
. "$GUEST_TESTS_LIB"
[ -c /dev/kvm ] || fail "/dev/kvm is missing"
[ -r "${AMBER_TEST_KERNEL:-}" ] || fail "AMBER_TEST_KERNEL ('${AMBER_TEST_KERNEL:-}') is not a readable file"
[ "$(dd if="$AMBER_TEST_KERNEL" bs=1 skip=514 count=4 2>/dev/null)" = HdrS ] || fail "$AMBER_TEST_KERNEL is not a bzImage"
[ -s "${AMBER_TEST_INITRD:-}" ] || fail "AMBER_TEST_INITRD ('${AMBER_TEST_INITRD:-}') is missing or empty"
if [ "${AMBER_HARNESS:-}" = nested ]; then
    grep -q '^kvm_amd ' /proc/modules || fail "kvm_amd is not loaded in the nested machine"
fi
require_amber
command -v amber-vmm >/dev/null || fail "amber-vmm is not on PATH"
amber --help >help.log 2>&1 || { show help.log; fail "amber --help failed"; }
echo "kvm, test guest and amber in place"
