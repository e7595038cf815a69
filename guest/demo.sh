#!/bin/sh
# The `make demo` tour, run by scripts/demo through scripts/harness: boot the test guest with a disk,
# show it running, pause it, resume it, let it power off, then keep its disk in the store as an image.
set -u
step() { printf '\n### %s\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }
command -v amber >/dev/null || die "amber is not built; run 'make build' first"

cd "$(mktemp -d)"
truncate -s 64M disk.img
cat >guest.sh <<'G'
echo "hello from the guest: $(nproc) vCPUs, $(( $(cat /sys/block/vda/size) / 2048 )) MiB disk, kernel $(uname -r)"
i=1
while [ $i -le 20 ]; do echo "guest tick $i"; i=$((i + 1)); sleep 1; done
echo "written by the demo guest" | dd of=/dev/vda bs=512 conv=sync,fsync 2>/dev/null
echo "guest: wrote to /dev/vda, powering off"
poweroff -f
G
# initcall_blacklist: see GUEST_CMDLINE in Tests/guest/lib/common.sh.
cmdline="console=ttyS0 reboot=k panic=1 pci=off quiet initcall_blacklist=add_rtc_cmos amber.script=$(base64 -w0 guest.sh)"

console_has() { amber logs demo 2>/dev/null | grep -q -F "$1"; }
vm_running() { amber ps 2>/dev/null | grep -q -E "^demo .*(running|paused|starting|booting|stopping)"; }
# Waits for the guest to print $1; gives up after 5 minutes or when the VM has stopped.
wait_until() {
    tries=0
    until console_has "$1"; do
        tries=$((tries + 1))
        if [ $tries -ge 1000 ] || ! vm_running; then
            console_has "$1" && return 0
            amber logs demo
            die "the guest never printed '$1'"
        fi
        usleep 300000
    done
}

step "amber run demo --detach --kernel <Debian cloud kernel> --initrd <test initrd> --disk disk.img --memory 256M --vcpus 2"
amber run demo --detach --kernel "$AMBER_TEST_KERNEL" --initrd "$AMBER_TEST_INITRD" --disk "$PWD/disk.img" \
    --memory 256M --vcpus 2 --cmdline "$cmdline" || die "amber run failed"
wait_until "guest tick 3"
amber logs demo | tr -d '\r' | grep -E "hello from the guest|guest tick" | tail -n 4

step "amber ps"
amber ps

step "amber pause demo"
amber pause demo || die "amber pause failed"
amber ps
before="$(amber logs demo | grep -c 'guest tick')"
sleep 5
after="$(amber logs demo | grep -c 'guest tick')"
echo "ticks before 5 s of pause: $before, after: $after (the guest made no progress)"

step "amber resume demo"
amber resume demo || die "amber resume failed"
wait_until "guest tick $((after + 2))"
amber logs demo | tr -d '\r' | grep "guest tick" | tail -n 2

step "waiting for the guest to power off"
wait_until "powering off"
tries=0
while vm_running && [ $tries -lt 300 ]; do
    tries=$((tries + 1)); usleep 200000
done
amber logs demo | tr -d '\r' | tail -n 3
amber ps
echo "first bytes of disk.img: $(head -c 25 disk.img)"

step "amber image import disk.img --name demo-disk (the VM's disk into the content-addressed store)"
amber image import disk.img --name demo-disk || die "amber image import failed"
amber image ls
amber store stats
amber image export demo-disk disk-copy.img || die "amber image export failed"
cmp disk.img disk-copy.img && echo "exported image is byte-identical to disk.img"
