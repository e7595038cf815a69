#!/bin/sh
# The Linux guest boots to its script with --vcpus 1, 2 and 4, and sees exactly that many CPUs.
. "$GUEST_TESTS_LIB"
require_amber
cat >guest.sh <<'G'
echo "guest nproc=$(nproc)"
G
for vcpus in 1 2 4; do
    run_guest "cpus$vcpus" guest.sh "boot-$vcpus.log" --vcpus "$vcpus" || { code=$?; show "boot-$vcpus.log"; fail "amber run --vcpus $vcpus exited $code"; }
    expect_in "boot-$vcpus.log" "guest nproc=$vcpus"
    echo "--vcpus $vcpus: nproc=$vcpus"
done
