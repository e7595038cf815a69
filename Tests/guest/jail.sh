#!/bin/sh
# amber-vmm, seen from the nested machine (root, a cgroup v2 hierarchy as on a systemd host): an unprivileged
# uid, no capabilities, no_new_privs, seccomp, an empty root, and a cgroup of its own with limits sized from
# the VM, removed once the VM stops. The guest runs normally inside all of it.
. "$GUEST_TESTS_LIB"
require_amber
[ -e /sys/fs/cgroup/cgroup.controllers ] || fail "no cgroup v2 hierarchy at /sys/fs/cgroup (the harness mounts one)"
cat >guest.sh <<'G'
echo "guest up"
sleep 600
G
start_guest jailed guest.sh run.log --vcpus 2
wait_console jailed "guest up" "$GUEST_TIMEOUT" || { show "$AMBER_HOME/vms/jailed/vmm.log"; amber stop jailed; fail "the guest never came up"; }
pid="$(vmm_pids)"
[ "$(echo "$pid" | wc -w)" -eq 1 ] || fail "expected one amber-vmm, found '$pid'"

field() { sed -n "s/^$1:[[:space:]]*//p" "/proc/$pid/status"; }
uids="$(field Uid)"
case " $uids " in *" 0 "*) fail "amber-vmm runs with uid 0 among '$uids'" ;; esac
[ "$(field CapEff)" = 0000000000000000 ] || fail "CapEff is $(field CapEff)"
[ "$(field NoNewPrivs)" = 1 ] || fail "NoNewPrivs is $(field NoNewPrivs)"
[ "$(field Seccomp)" = 2 ] || fail "Seccomp is $(field Seccomp)"
root="$(readlink "/proc/$pid/root")"
[ "$root" = "$AMBER_HOME/vms/jailed/jail" ] || fail "its root is $root"
[ -z "$(ls -A "/proc/$pid/root/")" ] || fail "its root is not empty"
echo "uid $(echo "$uids" | cut -f1), no capabilities, no_new_privs, seccomp filter, root $root (empty)"

group="$(sed -n 's/^0:://p' "/proc/$pid/cgroup")"
case "$group" in /amber/jailed.*) ;; *) fail "amber-vmm is in cgroup '$group', not /amber/jailed.<hash>" ;; esac
directory="/sys/fs/cgroup$group"
# Twice the guest's 256 MiB (a snapshot's copy-on-write peak) plus 256 MiB; two vCPUs plus one CPU; 2 + 128 tasks.
[ "$(cat "$directory/memory.max")" = 805306368 ] || fail "memory.max is $(cat "$directory/memory.max")"
[ "$(cat "$directory/cpu.max")" = "300000 100000" ] || fail "cpu.max is $(cat "$directory/cpu.max")"
[ "$(cat "$directory/pids.max")" = 130 ] || fail "pids.max is $(cat "$directory/pids.max")"
[ "$(cat "$directory/memory.current")" -gt 0 ] || fail "nothing is charged to the VM's cgroup"
grep -q -F "limited: cgroup $directory" "$AMBER_HOME/vms/jailed/vmm.log" || { show "$AMBER_HOME/vms/jailed/vmm.log"; fail "vmm.log does not say the limits"; }
echo "cgroup $group: memory.max 805306368, cpu.max 300000 100000, pids.max 130, $(cat "$directory/memory.current") bytes charged"

amber snapshot take jailed >snapshot.log 2>&1 || { show snapshot.log; amber stop jailed; fail "a snapshot of the jailed VM failed"; }
amber stop jailed >/dev/null 2>&1 || fail "amber stop failed"
wait_for 30 no_vmm_running || fail "amber-vmm still running after amber stop"
[ ! -e "$directory" ] || fail "the VM's cgroup $directory is still there after it stopped"
echo "snapshot taken; after amber stop the cgroup is gone"
