#!/bin/sh
# The `make demo` tour, run by scripts/demo through scripts/harness: boot the test guest with a disk, show
# it running, pause and resume it, snapshot it, let something "bad" happen to it, roll it back (memory and
# disk), clone the snapshot twice, let amberd snapshot and prune it by a policy for half a minute, then keep
# the VM's disk in the store as an image.
set -u
step() { printf '\n### %s\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }
command -v amber >/dev/null || die "amber is not built; run 'make build' first"

cd "$(mktemp -d)"
truncate -s 64M disk.img
cat >guest.sh <<'G'
echo "hello from the guest: $(nproc) vCPUs, $(( $(cat /sys/block/vda/size) / 2048 )) MiB disk, kernel $(uname -r)"
i=1
while [ $i -le 100000 ]; do
    echo "guest tick $i"
    if [ $i -eq 30 ]; then
        echo "COMPROMISED at tick $i" | dd of=/dev/vda bs=512 seek=100 conv=sync,fsync 2>/dev/null
        echo "guest: something bad happened at tick $i (wrote to sector 100 of /dev/vda)"
    fi
    i=$((i + 1)); sleep 1
done
G
# initcall_blacklist: see GUEST_CMDLINE in Tests/guest/lib/common.sh.
cmdline="console=ttyS0 reboot=k panic=1 pci=off quiet initcall_blacklist=add_rtc_cmos amber.script=$(base64 -w0 guest.sh)"

console_has() { amber logs "$vm" 2>/dev/null | grep -q -F "$1"; }
vm_running() { amber ps 2>/dev/null | grep -q -E "^$vm .*(running|paused|starting|booting|stopping)"; }
# wait_until TEXT [VM]: waits for the guest to print TEXT; gives up after 5 minutes or when the VM has stopped.
wait_until() {
    vm="${2:-demo}"
    tries=0
    until console_has "$1"; do
        tries=$((tries + 1))
        if [ $tries -ge 1000 ] || ! vm_running; then
            console_has "$1" && return 0
            amber logs "$vm"
            # Why amber-vmm stopped, if it did.
            tail -n 20 "${AMBER_HOME:-/var/lib/amber}/vms/$vm/vmm.log" >&2 2>/dev/null
            die "the guest never printed '$1'"
        fi
        usleep 300000
    done
}
ticks() { amber logs "$1" | tr -d '\r' | grep "guest tick" | tr '\n' ' ' | sed 's/guest tick //g'; }
sector100() { dd if="$1" bs=512 skip=100 count=1 2>/dev/null | tr -d '\0' | head -n1; }

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

step "amber snapshot take demo --label known-good (memory, vCPUs, devices and disk into the store)"
amber snapshot take demo --label known-good --json >snapshot.json || die "amber snapshot failed"
id="$(tr -d ' \n' <snapshot.json | sed -n 's/.*"id":"\([0-9a-f]*\)".*/\1/p')"
amber snapshot ls demo
echo "console up to the snapshot: $(ticks demo)"

step "amber snapshot take demo --label a-bit-later (incremental: only what changed is stored)"
wait_until "guest tick $(( $(ticks demo | wc -w) + 2 ))"
amber snapshot take demo --label a-bit-later || die "amber snapshot failed"

step "the guest runs on, and at tick 30 something bad happens to it"
wait_until "something bad happened"
amber logs demo | tr -d '\r' | grep -E "guest tick|bad" | tail -n 3
amber disk export demo disk-compromised.img >/dev/null || die "amber disk export failed"
echo "sector 100 of its disk now: '$(sector100 disk-compromised.img)'"

step "amber rollback demo --to known-good --keep-current (back to the labelled snapshot, memory and disk, no reboot)"
amber rollback demo --to known-good --keep-current || die "amber rollback failed"
amber pause demo >/dev/null
amber disk export demo disk-rolled-back.img >/dev/null || die "amber disk export failed"
amber resume demo >/dev/null
echo "sector 100 of its disk after the rollback: '$(sector100 disk-rolled-back.img)'"
wait_until "guest tick"
sleep 2
echo "console after the rollback (no boot messages; it goes on from the snapshot): $(ticks demo)"
amber snapshot ls demo

step "amber clone $id --name demo-clone1 --detach; and demo-clone2 (warm VMs from the snapshot)"
for clone in demo-clone1 demo-clone2; do
    amber clone "$id" --name "$clone" --detach || die "amber clone failed"
done
for clone in demo-clone1 demo-clone2; do wait_until "guest tick" "$clone"; done
sleep 2
for clone in demo-clone1 demo-clone2; do echo "$clone console: $(ticks "$clone")"; done
amber ps

step "a policy: snapshot demo every 10 s, keep only the newest (amber policy check, amberd for 40 s, amber policy status)"
mkdir -p policies
cat >policies/demo.yaml <<'P'
name: demo-every-10s
vms: [demo]
schedule: "*:*:0/10"
memory: true
keep: { last: 1 }
P
export AMBER_POLICIES="$PWD/policies"
amber policy check || die "amber policy check failed"
amberd 2>amberd.log &
amberd_pid=$!
sleep 40
kill -TERM "$amberd_pid"
wait "$amberd_pid" || die "amberd did not exit cleanly on SIGTERM (log: $(tail -n 3 amberd.log))"
tail -n 6 amberd.log
amber snapshot ls demo
amber policy status
echo "(snapshots taken by hand, the pre-rollback one included, belong to no policy: amber prune never removes them)"

step "amber stop (all three)"
for each in demo demo-clone1 demo-clone2; do amber stop "$each"; done

step "amber disk export demo disk-now.img; amber image import disk-now.img --name demo-disk"
amber disk export demo disk-now.img || die "amber disk export failed"
amber image import disk-now.img --name demo-disk || die "amber image import failed"
amber image ls
amber store stats
