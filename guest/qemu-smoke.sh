#!/bin/sh
# Checks the harness' nested KVM with QEMU as the VMM instead of amber, to tell harness problems from VMM
# problems. QEMU is not in the normal harness; bring it in:
#   HARNESS_EXTRA_FILES="/usr/bin/qemu-system-x86_64 /usr/share/qemu/qboot.rom /usr/share/qemu/bios-microvm.bin \
#     /usr/share/qemu/linuxboot_dma.bin /usr/share/qemu/kvmvapic.bin" scripts/harness guest/qemu-smoke.sh
# microvm declares its virtio-mmio devices in ACPI, as amber-vmm does, so the test guest's virtio_blk is used.
command -v qemu-system-x86_64 >/dev/null || { echo "qemu-smoke: qemu-system-x86_64 is not inside (see HARNESS_EXTRA_FILES above)"; exit 1; }
cat >/tmp/guest.sh <<'G'
echo "guest script reached at $(cut -d' ' -f1 /proc/uptime) s of guest uptime, nproc=$(nproc)"
echo written-by-guest | dd of=/dev/vda bs=512 conv=sync,fsync 2>/dev/null
G
truncate -s 16M /tmp/disk.img
start=$(cut -d' ' -f1 /proc/uptime)
qemu-system-x86_64 -M microvm -accel kvm -cpu host -smp 1 -m 256 -kernel "$AMBER_TEST_KERNEL" -initrd "$AMBER_TEST_INITRD" \
    -append "console=ttyS0 reboot=k panic=1 quiet initcall_blacklist=add_rtc_cmos amber.script=$(base64 -w0 /tmp/guest.sh)" \
    -drive id=disk,file=/tmp/disk.img,format=raw,if=none -device virtio-blk-device,drive=disk \
    -nodefaults -display none -serial stdio -no-reboot </dev/null | grep -E "guest script|amber.script exit"
end=$(cut -d' ' -f1 /proc/uptime)
echo "qemu ran $(echo "$end - $start" | bc) s"
head -c 16 /tmp/disk.img | grep -q written-by-guest || { echo "qemu-smoke: the guest's write is not in the disk image"; exit 1; }
echo "qemu-smoke: the guest booted under nested KVM and wrote its disk"
