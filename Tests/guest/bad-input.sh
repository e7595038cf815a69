#!/bin/sh
# Bad input to amber run/pause/stop: each a one-line error and a non-zero exit, nothing left running.
. "$GUEST_TESTS_LIB"
require_amber
failures=0
truncate -s 16M disk.img
echo "not a kernel" >text.file
mkdir folder

# refused DESCRIPTION COMMAND...: the command must exit non-zero with exactly one line on stderr and leave
# no amber-vmm behind.
refused() {
    description="$1"
    shift
    "$@" </dev/null >out.log 2>err.log
    code=$?
    lines="$(grep -c . err.log)"
    if [ "$code" -eq 0 ]; then
        echo "  not refused: $description (exit 0)"; failures=$((failures + 1))
    elif [ "$lines" -ne 1 ]; then
        echo "  not one line: $description (exit $code, $lines lines on stderr):"; sed 's/^/      /' err.log; failures=$((failures + 1))
    elif [ -n "$(vmm_pids)" ]; then
        echo "  left amber-vmm running: $description"; failures=$((failures + 1))
    else
        echo "  ok: $description -> $(cat err.log)"
    fi
}

run_with() {
    amber run bad --kernel "$AMBER_TEST_KERNEL" --initrd "$AMBER_TEST_INITRD" --disk "$PWD/disk.img" --memory 256M "$@"
}

refused "missing kernel" amber run bad --kernel /nonexistent/vmlinuz --initrd "$AMBER_TEST_INITRD" --memory 256M
refused "kernel that is not a bzImage" amber run bad --kernel "$PWD/text.file" --initrd "$AMBER_TEST_INITRD" --memory 256M
refused "missing initrd" amber run bad --kernel "$AMBER_TEST_KERNEL" --initrd /nonexistent/initrd --memory 256M
refused "missing disk" amber run bad --kernel "$AMBER_TEST_KERNEL" --initrd "$AMBER_TEST_INITRD" --disk /nonexistent/disk.img --memory 256M
refused "disk that is a folder" amber run bad --kernel "$AMBER_TEST_KERNEL" --initrd "$AMBER_TEST_INITRD" --disk "$PWD/folder" --memory 256M
refused "memory 0" run_with --memory 0
refused "absurd memory" run_with --memory 64T
refused "memory that is not a size" run_with --memory lots
refused "--vcpus 0" run_with --vcpus 0
refused "pause of an unknown VM" amber pause no-such-vm
refused "stop of an unknown VM" amber stop no-such-vm

cat >guest.sh <<'G'
echo "guest up"
sleep 600
G
if amber run busy --detach --kernel "$AMBER_TEST_KERNEL" --initrd "$AMBER_TEST_INITRD" --memory 256M \
    --cmdline "$GUEST_CMDLINE $(script_argument guest.sh)" </dev/null >busy.log 2>&1; then
    vmm_before="$(vmm_pids)"
    amber run busy --kernel "$AMBER_TEST_KERNEL" --initrd "$AMBER_TEST_INITRD" --memory 256M </dev/null >out.log 2>err.log
    code=$?
    if [ "$code" -ne 0 ] && [ "$(grep -c . err.log)" -eq 1 ] && [ "$(vmm_pids)" = "$vmm_before" ]; then
        echo "  ok: name already running -> $(cat err.log)"
    else
        echo "  wrong: second amber run of a running name (exit $code, amber-vmm pids '$vmm_before' -> '$(vmm_pids)'):"
        sed 's/^/      /' err.log
        failures=$((failures + 1))
    fi
    amber stop busy >/dev/null 2>&1
else
    echo "  could not start a detached VM to test a name already running:"; sed 's/^/      /' busy.log
    failures=$((failures + 1))
fi

# Two `amber run`s of one name at the same moment: exactly one may start the VM.
amber run twin --detach --kernel "$AMBER_TEST_KERNEL" --initrd "$AMBER_TEST_INITRD" --memory 256M \
    --cmdline "$GUEST_CMDLINE $(script_argument guest.sh)" </dev/null >twin-1.log 2>&1 &
first=$!
amber run twin --detach --kernel "$AMBER_TEST_KERNEL" --initrd "$AMBER_TEST_INITRD" --memory 256M \
    --cmdline "$GUEST_CMDLINE $(script_argument guest.sh)" </dev/null >twin-2.log 2>&1 &
second=$!
wait $first; first_code=$?
wait $second; second_code=$?
vmms="$(vmm_pids | wc -w)"
if [ $((first_code == 0)) -ne $((second_code == 0)) ] && [ "$vmms" -eq 1 ]; then
    refusal=twin-1.log
    [ "$first_code" -eq 0 ] && refusal=twin-2.log
    echo "  ok: concurrent amber run of one name -> one VM, the other refused: $(cat "$refusal")"
else
    echo "  wrong: concurrent amber run of one name: exits $first_code and $second_code, $vmms amber-vmm running"
    failures=$((failures + 1))
fi
amber stop twin >/dev/null 2>&1
wait_for 30 no_vmm_running || fail "amber-vmm still running after amber stop"

[ "$failures" -eq 0 ] || fail "$failures bad-input case(s) not handled as required"
