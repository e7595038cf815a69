// amber-vmm's seccomp allow-lists, by thread kind. Found by tracing amber-vmm through the whole unit suite and
// the Linux-guest scenarios (strace -f, the calls made after it confines itself), then reasoned over: what the
// Swift runtime and glibc call on these paths (allocation, threads, signals, clocks) is allowed whether or not
// a trace happened to show it. A call outside a list raises SIGSYS: amber-vmm logs it and exits (status 1).
#define _GNU_SOURCE
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>
#include <linux/if_tun.h>
#include "csystem.h"
#include "pagemap_scan.h"

#define COUNT(array) ((int)(sizeof(array) / sizeof((array)[0])))

// Every thread, from the moment amber-vmm is confined: no file system changes, no new sockets, no exec, no
// identity changes, no mounts, no ptrace, no kernel modules, no BPF, no namespaces.
static const int process_calls[] = {
    // memory
    SYS_brk, SYS_mmap, SYS_munmap, SYS_mprotect, SYS_mremap, SYS_madvise, SYS_msync,
    // descriptors it already holds: disks, overlays, console, log, sockets, eventfds, KVM (ioctls: see below)
    SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_pread64, SYS_pwrite64, SYS_preadv, SYS_pwritev,
    SYS_preadv2, SYS_pwritev2, SYS_lseek, SYS_close, SYS_close_range, SYS_dup, SYS_dup2, SYS_dup3, SYS_fcntl,
    SYS_fstat, SYS_newfstatat, SYS_statx, SYS_fsync, SYS_fdatasync, SYS_ftruncate, SYS_ioctl, SYS_eventfd2,
    SYS_pipe2, SYS_poll, SYS_ppoll,
    // the control socket: accept, per-connection options and the peer's credentials, answers
    SYS_accept, SYS_accept4, SYS_getsockopt, SYS_setsockopt, SYS_shutdown, SYS_sendto, SYS_recvfrom,
    SYS_sendmsg, SYS_recvmsg,
    // paths inside the empty root (they find nothing there)
    SYS_openat, SYS_readlink, SYS_access, SYS_unlink, SYS_getdents64,
    // threads, the snapshot's memory holder (fork, kill, wait) and signals
    SYS_clone, SYS_clone3, SYS_exit, SYS_exit_group, SYS_wait4, SYS_kill, SYS_tgkill, SYS_futex,
    SYS_set_robust_list, SYS_rseq, SYS_set_tid_address, SYS_sched_yield, SYS_sched_getaffinity,
    SYS_rt_sigaction, SYS_rt_sigprocmask, SYS_rt_sigreturn, SYS_rt_sigtimedwait, SYS_rt_sigsuspend,
    SYS_sigaltstack, SYS_pause, SYS_restart_syscall, SYS_prctl,
    // a vCPU thread adding its own, narrower filter (filters only ever narrow)
    SYS_seccomp,
    // time and identity facts
    SYS_clock_gettime, SYS_clock_getres, SYS_clock_nanosleep, SYS_nanosleep, SYS_gettimeofday,
    SYS_getpid, SYS_getppid, SYS_gettid, SYS_getuid, SYS_geteuid, SYS_getgid, SYS_getegid,
    SYS_uname, SYS_sysinfo, SYS_prlimit64, SYS_getrusage, SYS_getrandom,
};

// The ioctls any thread may make once confined: a snapshot reads the paused machine's state from a control
// thread (every vCPU's registers, the VM's interrupt controllers, PIT and clock, the host's MSR list and
// xsave size), tells each vCPU's kvmclock the pause was deliberate, and asks the kernel which guest pages
// were written (PAGEMAP_SCAN); `amber stop` raises the ACPI interrupt (KVM_IRQ_LINE); the foreground console
// restores the terminal. A vCPU thread's KVM_RUN is here too: filters only narrow, so every thread's
// requests must pass this list as well as its own. Nothing that builds or changes a VM (memory slots,
// vCPU creation, registers) is allowed after the jail: restores happen before it.
static const uint32_t process_ioctls[] = {
    KVM_RUN, KVM_IRQ_LINE, KVM_KVMCLOCK_CTRL,
    KVM_GET_MP_STATE, KVM_GET_REGS, KVM_GET_SREGS, KVM_GET_XSAVE, KVM_GET_XSAVE2, KVM_GET_XCRS,
    KVM_GET_DEBUGREGS, KVM_GET_LAPIC, KVM_GET_TSC_KHZ, KVM_GET_CPUID2, KVM_GET_MSRS, KVM_GET_VCPU_EVENTS,
    KVM_GET_IRQCHIP, KVM_GET_PIT2, KVM_GET_CLOCK, KVM_CHECK_EXTENSION, KVM_GET_MSR_INDEX_LIST,
    PAGEMAP_SCAN,
    // a virtio-net worker telling its tap which offloads the guest negotiated (see network_device_calls)
    TUNSETOFFLOAD,
    TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ,
};

// A vCPU thread runs the guest and every port and MMIO exit: serial output (console log, attached console
// sockets), the i8042 and ACPI ports, virtio-mmio registers (waking the device worker through an eventfd,
// interrupts through an irqfd). It needs KVM_RUN and KVM_IRQ_LINE (the serial port's interrupt) of KVM.
static const int vcpu_calls[] = {
    SYS_brk, SYS_mmap, SYS_munmap, SYS_mprotect, SYS_mremap, SYS_madvise,
    SYS_read, SYS_write, SYS_writev, SYS_sendto, SYS_sendmsg, SYS_close, SYS_shutdown, SYS_fcntl, SYS_ioctl,
    SYS_futex, SYS_exit, SYS_exit_group, SYS_set_robust_list, SYS_rseq, SYS_sched_yield,
    SYS_rt_sigprocmask, SYS_rt_sigreturn, SYS_sigaltstack, SYS_tgkill, SYS_restart_syscall,
    SYS_clock_gettime, SYS_clock_nanosleep, SYS_nanosleep, SYS_getpid, SYS_gettid,
};
static const uint32_t vcpu_ioctls[] = { KVM_RUN, KVM_IRQ_LINE };

// A virtio device's worker thread reads descriptor chains the guest wrote and serves them from its disk files:
// the queue's eventfd, the irqfd, reads, writes and syncs of descriptors it holds, memory, futexes. No ioctl
// (KVM is out of its reach), no sockets, no threads, no processes, no signals to others, no paths.
static const int device_calls[] = {
    SYS_brk, SYS_mmap, SYS_munmap, SYS_mprotect, SYS_mremap, SYS_madvise,
    SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_pread64, SYS_pwrite64, SYS_preadv, SYS_pwritev,
    SYS_preadv2, SYS_pwritev2, SYS_lseek, SYS_fstat, SYS_newfstatat, SYS_fsync, SYS_fdatasync, SYS_ftruncate,
    SYS_close, SYS_fcntl,
    SYS_futex, SYS_exit, SYS_exit_group, SYS_set_robust_list, SYS_rseq, SYS_sched_yield,
    SYS_rt_sigprocmask, SYS_rt_sigreturn, SYS_sigaltstack, SYS_tgkill, SYS_restart_syscall,
    SYS_clock_gettime, SYS_clock_nanosleep, SYS_nanosleep, SYS_getpid, SYS_gettid,
};

// A virtio-net worker thread: the device calls above (the tap is a descriptor it holds: read for frames in, writev
// for frames out), poll on the tap and its queues' eventfds, and one ioctl: TUNSETOFFLOAD on its tap, when the
// guest's driver (re)negotiates offloads after the jail. No sockets, no paths, no other ioctl.
static const int network_device_calls[] = {
    SYS_brk, SYS_mmap, SYS_munmap, SYS_mprotect, SYS_mremap, SYS_madvise,
    SYS_read, SYS_write, SYS_readv, SYS_writev, SYS_close, SYS_fcntl, SYS_poll, SYS_ppoll, SYS_ioctl,
    SYS_futex, SYS_exit, SYS_exit_group, SYS_set_robust_list, SYS_rseq, SYS_sched_yield,
    SYS_rt_sigprocmask, SYS_rt_sigreturn, SYS_sigaltstack, SYS_tgkill, SYS_restart_syscall,
    SYS_clock_gettime, SYS_clock_nanosleep, SYS_nanosleep, SYS_getpid, SYS_gettid,
};
static const uint32_t network_device_ioctls[] = { TUNSETOFFLOAD };

int csystem_filter_amber_vmm_process(void) {
    return csystem_install_syscall_filter(process_calls, COUNT(process_calls), process_ioctls, COUNT(process_ioctls), 1);
}

int csystem_filter_device_thread(void) {
    // No request numbers at all: an ioctl request can match none, and SYS_ioctl is not in the list.
    return csystem_install_syscall_filter(device_calls, COUNT(device_calls), NULL, 0, 0);
}

int csystem_filter_network_device_thread(void) {
    return csystem_install_syscall_filter(network_device_calls, COUNT(network_device_calls), network_device_ioctls,
                                          COUNT(network_device_ioctls), 0);
}

int csystem_filter_vcpu_thread(void) {
    return csystem_install_syscall_filter(vcpu_calls, COUNT(vcpu_calls), vcpu_ioctls, COUNT(vcpu_ioctls), 0);
}

long csystem_make_forbidden_call(void) {
    return syscall(SYS_mount, "none", "/", "none", 0, NULL);
}

long csystem_make_forbidden_ioctl(void) {
    // Refused by the filter before the kernel looks at the descriptor.
    return syscall(SYS_ioctl, -1, KVM_CREATE_VM, 0);
}
