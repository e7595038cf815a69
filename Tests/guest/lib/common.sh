# Helpers shared by the Linux-guest scenarios (Tests/guest/*.sh). Sourced, not run; POSIX sh (busybox ash
# inside the harness). Each scenario runs in its own empty directory with its own AMBER_HOME.

# The test guest's command line (docs/KVM.md) without the per-run amber.script= argument. Without an RTC,
# Debian's kernel probes the absent CMOS clock port by port, which took 15-20 s of each boot under the
# nested harness (measured with QEMU's microvm, BENCHMARKS.md); skipping that initcall removes it.
GUEST_CMDLINE="console=ttyS0 reboot=k panic=1 pci=off quiet initcall_blacklist=add_rtc_cmos"
# VMs get no NIC unless a scenario asks for one with --net (the network scenarios do).
export AMBER_NET=none
# Seconds one guest may take from `amber run` to its exit; nested KVM under TCG is slow.
GUEST_TIMEOUT="${GUEST_TIMEOUT:-300}"

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

require_amber() {
    command -v amber >/dev/null 2>&1 || fail "amber is not on PATH (build it: make build)"
    [ -c /dev/kvm ] || fail "/dev/kvm is missing"
}

# script_argument FILE: the kernel argument that makes the test guest run FILE and power off.
script_argument() {
    echo "amber.script=$(base64 -w0 "$1")"
}

# run_guest NAME SCRIPT LOG [amber run options...]: boots the test guest in the foreground with SCRIPT as
# its job, console and amber's messages into LOG; returns amber run's exit code.
run_guest() {
    name="$1" script="$2" log="$3"
    shift 3
    timeout -s KILL "$GUEST_TIMEOUT" amber run "$name" --kernel "$AMBER_TEST_KERNEL" --initrd "$AMBER_TEST_INITRD" \
        --memory 256M --cmdline "$GUEST_CMDLINE $(script_argument "$script")" "$@" </dev/null >"$log" 2>&1
}

# start_guest NAME SCRIPT LOG [amber run options...]: starts the test guest detached with SCRIPT as its job;
# fails the scenario, showing LOG (amber's messages), if `amber run --detach` does.
start_guest() {
    name="$1" script="$2" log="$3"
    shift 3
    amber run "$name" --detach --kernel "$AMBER_TEST_KERNEL" --initrd "$AMBER_TEST_INITRD" --memory 256M \
        --cmdline "$GUEST_CMDLINE $(script_argument "$script")" "$@" </dev/null >"$log" 2>&1 \
        || { show "$log"; fail "amber run $name --detach failed"; }
}

# expect_in LOG TEXT: fails, showing LOG, unless LOG has a line containing TEXT.
expect_in() {
    grep -q -F -- "$2" "$1" && return 0
    show "$1"
    fail "'$2' not in $1"
}

# show FILE: prints FILE indented, for failure reports.
show() {
    echo "--- $1" >&2
    sed 's/^/    /' "$1" >&2
    echo "---" >&2
}

# vm_state NAME: the state `amber ps` reports for NAME (empty when unlisted). The table, not --json: busybox has
# no JSON parser, and a VM's object holds nested ones (its NICs).
vm_state() {
    amber ps 2>/dev/null | awk -v name="$1" 'NR > 1 && $1 == name { print $2; exit }'
}

# vmm_pids: the amber-vmm processes that belong to this scenario. Inside the nested harness every one does;
# on a host with hardware KVM only those started for this scenario's AMBER_HOME.
vmm_pids() {
    for comm in /proc/[0-9]*/comm; do
        [ "$(cat "$comm" 2>/dev/null)" = amber-vmm ] || continue
        pid="${comm#/proc/}"
        pid="${pid%/comm}"
        if [ "${AMBER_HARNESS:-}" != nested ]; then
            tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -F "$AMBER_HOME/" || continue
        fi
        echo "$pid"
    done
}

# no_vmm_left WHAT: fails when an amber-vmm of this scenario is still alive after WHAT.
no_vmm_left() {
    pids="$(vmm_pids)"
    [ -z "$pids" ] || fail "amber-vmm still running (pids $pids) after: $1"
}

# wait_for SECONDS COMMAND...: retries COMMAND every 0.2 s until it succeeds or SECONDS pass.
wait_for() {
    deadline=$(( $(date +%s) + $1 ))
    shift
    until "$@"; do
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        usleep 200000
    done
}

# no_vmm_running: succeeds once this scenario has no amber-vmm left (for wait_for).
no_vmm_running() {
    [ -z "$(vmm_pids)" ]
}

# wait_console NAME TEXT SECONDS: waits until the console of detached VM NAME shows TEXT. Returns 1 after
# SECONDS, or at once when the VM has stopped without showing it.
wait_console() {
    deadline=$(( $(date +%s) + $3 ))
    while :; do
        amber logs "$1" 2>/dev/null | grep -q -F -- "$2" && return 0
        case "$(vm_state "$1")" in
            stopped | "") amber logs "$1" 2>/dev/null | grep -q -F -- "$2"; return $? ;;
        esac
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        usleep 300000
    done
}

# Amber's networks in the scenarios: iproute2's ip, not busybox's applet (busybox sh runs its own applets
# before PATH, so the full path is needed).
IP=/usr/sbin/ip

# console_value NAME KEY: the last "KEY value" line on the console of detached VM NAME (the value only).
console_value() {
    amber logs "$1" 2>/dev/null | tr -d '\r' | sed -n "s/^$2 \([^ ]*\).*/\1/p" | tail -n1
}

# fetch URL [SECONDS]: the body of URL (busybox wget, each try bounded to 5 s by `timeout`: busybox 1.35's own
# -T crashes), retried every 0.5 s until it answers or SECONDS (default 60) pass; returns 1 then.
fetch() {
    deadline=$(( $(date +%s) + ${2:-60} ))
    while :; do
        timeout 5 wget -q -O - "$1" 2>/dev/null && return 0
        [ "$(date +%s)" -lt "$deadline" ] || return 1
        usleep 500000
    done
}

# refused HOST PORT: succeeds when a TCP connection to HOST:PORT fails within 5 s.
refused() {
    ! nc -w 5 "$1" "$2" </dev/null >/dev/null 2>&1
}
