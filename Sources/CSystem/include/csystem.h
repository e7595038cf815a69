// Linux calls that Glibc's Swift module does not expose (they need _GNU_SOURCE or are raw syscalls).
#ifndef AMBER_CSYSTEM_H
#define AMBER_CSYSTEM_H

int csystem_memfd_create(const char *name, unsigned int flags);
/// Names the calling thread for top -H, gdb and perf (PR_SET_NAME: the kernel keeps the first 15 bytes).
int csystem_name_this_thread(const char *name);
int csystem_userfaultfd(int flags);
/// Makes C's stdout line-buffered, so piped output shows each line as it is printed (Swift 6 code cannot
/// name C's `stdout`, a global variable).
void csystem_line_buffer_stdout(void);
/// Forks a child that holds a copy-on-write view of this process's private memory and does nothing
/// else: it blocks every signal, closes every descriptor and sleeps until SIGKILL (or until the
/// forking thread dies: PR_SET_PDEATHSIG). Returns the child's pid, or -1 with errno set.
int csystem_fork_memory_holder(void);

#include <stdint.h>
/// Starts tracking writes to [base, base + size) of this process's private memory: a userfaultfd in
/// asynchronous write-protect mode (the kernel lifts a page's protection on its first write, nothing
/// reaches user space), the range registered and write-protected. Returns the userfaultfd (keep it
/// open while tracking), or -1 with errno set (kernels before 6.7 lack the asynchronous mode).
int csystem_track_writes(void *base, uint64_t size);
/// The pages of [start, end) written since they were last protected, as up to `capacity` [first,
/// end) address pairs in `ranges`, write-protecting them again (PAGEMAP_SCAN on /proc/self/pagemap).
/// Returns the number of pairs and sets `*walk_end` to where the scan stopped (< end: call again from
/// there), or -1 with errno set.
long csystem_take_written(int pagemap_fd, uint64_t start, uint64_t end, uint64_t *ranges, long capacity,
                          uint64_t *walk_end);

/// The process at the other end of connected Unix socket `fd` (SO_PEERCRED). Returns 0, or -1 with errno set.
int csystem_peer_credentials(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid);

/// Confines this process for good (amber-vmm, once its VM is built): with privileges, chroot into `root` (an
/// empty directory), drop every supplementary group and switch real, effective and saved ids to `uid`/`gid`
/// (which clears every capability) and make the process undumpable (no same-uid ptrace, no core); always, set
/// no_new_privs. Returns 0, or -1 with errno set and `*failed` naming the step that failed.
int csystem_enter_jail(const char *root, uint32_t uid, uint32_t gid, const char **failed);

/// Installs a seccomp-BPF filter on the calling thread (with `all_threads`, on every thread of the process:
/// SECCOMP_FILTER_FLAG_TSYNC): only the `count` system call numbers in `allowed` pass; with `ioctl_count` > 0,
/// ioctl passes only with one of those request numbers. Anything else, and any other architecture, raises
/// SIGSYS in the thread (see `csystem_report_forbidden_calls`). Needs no_new_privs. Returns 0 or -1 with errno.
int csystem_install_syscall_filter(const int *allowed, int count, const uint32_t *ioctls, int ioctl_count, int all_threads);
/// amber-vmm's allow-lists (syscall_filters.c): every thread of the process, and a vCPU thread on top of that.
int csystem_filter_amber_vmm_process(void);
int csystem_filter_vcpu_thread(void);
int csystem_filter_device_thread(void);
int csystem_filter_network_device_thread(void);
/// A system call no amber-vmm filter allows (for the filter's own self-test).
long csystem_make_forbidden_call(void);
/// An ioctl no amber-vmm filter allows (KVM_CREATE_VM on descriptor -1).
long csystem_make_forbidden_ioctl(void);
/// A SIGSYS handler that writes "amber-vmm: thread TID made system call NR, which its seccomp filter forbids;
/// the VM stops" to stderr and ends the process with exit status 1 (async-signal-safe: write and exit_group).
int csystem_report_forbidden_calls(void);

/// Opens /dev/net/tun non-blocking as the tap device `name` (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR) with virtio-net
/// headers of `vnet_header_size` bytes. Without `create`, the kernel creates the tap when it is missing: callers
/// that must attach to an existing tap check that it exists first. With `create`, fails (EBUSY) if it exists;
/// with `persistent` too, the tap outlives the descriptor (it ends with its network namespace or `ip link del`).
/// Returns the descriptor, or -1 with errno set.
int csystem_tap_open(const char *name, int vnet_header_size, int create, int persistent);
/// TUNSETOFFLOAD: which offloads (TUN_F_*) the reader of the tap accepts in frames it reads.
int csystem_tap_set_offload(int fd, unsigned int offloads);
extern const unsigned int CSYSTEM_TUN_F_CSUM;
extern const unsigned int CSYSTEM_TUN_F_TSO4;
extern const unsigned int CSYSTEM_TUN_F_TSO6;
extern const unsigned int CSYSTEM_TUN_F_TSO_ECN;
/// setns(fd, CLONE_NEWNET) for the calling thread.
int csystem_enter_network_namespace(int namespace_fd);
/// unshare(CLONE_NEWNET) for the calling thread: a new, empty network namespace (only a loopback, down).
int csystem_unshare_network_namespace(void);
/// Sets IFF_UP on interface `name` of the calling thread's network namespace.
int csystem_set_interface_up(const char *name);
/// A non-blocking AF_PACKET raw socket bound to interface `interface_index` (every protocol), in the calling
/// thread's network namespace.
int csystem_packet_socket(unsigned int interface_index);

extern const unsigned int CSYSTEM_MFD_CLOEXEC;
extern const unsigned int CSYSTEM_MFD_ALLOW_SEALING;

#include <sys/eventfd.h>
#include <sys/epoll.h>

#endif
