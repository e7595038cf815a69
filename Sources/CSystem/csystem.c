#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <grp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/audit.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/ioctl.h>
#include <fcntl.h>
#include <errno.h>
#include <linux/userfaultfd.h>
#include "csystem.h"
#include "pagemap_scan.h"

const unsigned int CSYSTEM_MFD_CLOEXEC = MFD_CLOEXEC;
const unsigned int CSYSTEM_MFD_ALLOW_SEALING = MFD_ALLOW_SEALING;

int csystem_memfd_create(const char *name, unsigned int flags) {
    return memfd_create(name, flags);
}

int csystem_name_this_thread(const char *name) {
    return prctl(PR_SET_NAME, name, 0, 0, 0);
}

void csystem_line_buffer_stdout(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
}

int csystem_userfaultfd(int flags) {
    return (int)syscall(SYS_userfaultfd, flags);
}

int csystem_fork_memory_holder(void) {
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0) return pid;
    // The child of a multi-threaded process: only async-signal-safe calls from here on.
    sigset_t all;
    sigfillset(&all);
    sigprocmask(SIG_BLOCK, &all, NULL);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(0);
    // Descriptors kept open here would keep sockets, the KVM VM and disk files alive.
    syscall(SYS_close_range, 0U, ~0U, 0U);
    for (;;) pause();
}


int csystem_track_writes(void *base, uint64_t size) {
    int fd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return -1;
    struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_WP_ASYNC };
    struct uffdio_register reg = { .range = { (uint64_t)(uintptr_t)base, size }, .mode = UFFDIO_REGISTER_MODE_WP };
    struct uffdio_writeprotect protect = { .range = { (uint64_t)(uintptr_t)base, size }, .mode = UFFDIO_WRITEPROTECT_MODE_WP };
    if (ioctl(fd, UFFDIO_API, &api) < 0 || !(api.features & UFFD_FEATURE_WP_ASYNC)
        || ioctl(fd, UFFDIO_REGISTER, &reg) < 0 || ioctl(fd, UFFDIO_WRITEPROTECT, &protect) < 0) {
        int saved = errno ? errno : ENOSYS;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

long csystem_take_written(int pagemap_fd, uint64_t start, uint64_t end, uint64_t *ranges, long capacity,
                          uint64_t *walk_end) {
    struct page_region regions[capacity > 0 ? capacity : 1];
    struct pm_scan_arg arg = {
        .size = sizeof(arg), .flags = PM_SCAN_WP_MATCHING | PM_SCAN_CHECK_WPASYNC, .start = start, .end = end,
        .vec = (uint64_t)(uintptr_t)regions, .vec_len = (uint64_t)capacity,
        .category_mask = PAGE_IS_WRITTEN, .return_mask = PAGE_IS_WRITTEN,
    };
    long count = ioctl(pagemap_fd, PAGEMAP_SCAN, &arg);
    if (count < 0) return -1;
    for (long i = 0; i < count; i++) {
        ranges[2 * i] = regions[i].start;
        ranges[2 * i + 1] = regions[i].end;
    }
    *walk_end = arg.walk_end;
    return count;
}

int csystem_peer_credentials(int fd, int32_t *pid, uint32_t *uid, uint32_t *gid) {
    struct ucred credentials;
    socklen_t length = sizeof credentials;
    if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &credentials, &length) != 0) return -1;
    *pid = credentials.pid;
    *uid = credentials.uid;
    *gid = credentials.gid;
    return 0;
}

int csystem_enter_jail(const char *root, uint32_t uid, uint32_t gid, const char **failed) {
    if (geteuid() == 0) {
        if (chdir(root) != 0) { *failed = "chdir to the jail"; return -1; }
        if (chroot(".") != 0) { *failed = "chroot"; return -1; }
        if (chdir("/") != 0) { *failed = "chdir /"; return -1; }
        if (setgroups(0, NULL) != 0) { *failed = "setgroups"; return -1; }
        if (setresgid(gid, gid, gid) != 0) { *failed = "setresgid"; return -1; }
        if (setresuid(uid, uid, uid) != 0) { *failed = "setresuid"; return -1; }
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) { *failed = "PR_SET_DUMPABLE"; return -1; }
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) { *failed = "PR_SET_NO_NEW_PRIVS"; return -1; }
    return 0;
}

int csystem_install_syscall_filter(const int *allowed, int count, const uint32_t *ioctls, int ioctl_count, int all_threads) {
    if (count < 0 || ioctl_count < 0 || count + ioctl_count > 200) { errno = EINVAL; return -1; }
    // Positions, so that every jump can be computed (BPF jumps are relative and at most 255 ahead).
    int list = 5 + (ioctl_count > 0 ? 1 : 0);   // first jeq of the allowed list
    int trap = list + count;                     // nothing matched
    int allow = trap + 1;
    int ioctl_block = allow + 1;                 // request checks, if any
    int total = ioctl_block + (ioctl_count > 0 ? ioctl_count + 5 : 0);
    struct sock_filter *program = calloc((size_t)total, sizeof *program);
    if (program == NULL) { errno = ENOMEM; return -1; }
    #define JUMP_TO(target, from) ((unsigned char)((target) - (from) - 1))
    program[0] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    program[1] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
    program[2] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP);
    program[3] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
    // x32 system calls (bit 30) are another ABI with other numbers: never allowed.
    program[4] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000, JUMP_TO(trap, 4), 0);
    if (ioctl_count > 0) {
        program[5] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_ioctl, JUMP_TO(ioctl_block, 5), 0);
    }
    for (int i = 0; i < count; i++) {
        int at = list + i;
        program[at] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)allowed[i], JUMP_TO(allow, at), 0);
    }
    program[trap] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP);
    program[allow] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    if (ioctl_count > 0) {
        int refuse = ioctl_block + 3 + ioctl_count, accept = refuse + 1;
        // Request numbers are 32 bits: the high half of argument 1 must be zero.
        program[ioctl_block] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1]) + 4);
        program[ioctl_block + 1] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, JUMP_TO(refuse, ioctl_block + 1));
        program[ioctl_block + 2] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[1]));
        for (int i = 0; i < ioctl_count; i++) {
            int at = ioctl_block + 3 + i;
            program[at] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ioctls[i], JUMP_TO(accept, at), 0);
        }
        program[refuse] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRAP);
        program[accept] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    }
    #undef JUMP_TO
    struct sock_fprog fprog = { .len = (unsigned short)total, .filter = program };
    long result = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, all_threads ? SECCOMP_FILTER_FLAG_TSYNC : 0, &fprog);
    int saved = errno;
    free(program);
    errno = saved;
    if (result > 0) { errno = ESRCH; return -1; } // TSYNC: the id of a thread that could not be synchronized
    return result == 0 ? 0 : -1;
}

static void append_number(char **cursor, long value) {
    char digits[24];
    int length = 0;
    unsigned long magnitude = value < 0 ? (unsigned long)(-value) : (unsigned long)value;
    do { digits[length++] = (char)('0' + magnitude % 10); magnitude /= 10; } while (magnitude > 0);
    if (value < 0) *(*cursor)++ = '-';
    while (length > 0) *(*cursor)++ = digits[--length];
}

static void append_text(char **cursor, const char *text) {
    while (*text) *(*cursor)++ = *text++;
}

static void append_hex(char **cursor, unsigned long value) {
    char digits[16];
    int length = 0;
    do { digits[length++] = "0123456789abcdef"[value & 15]; value >>= 4; } while (value > 0);
    append_text(cursor, "0x");
    while (length > 0) *(*cursor)++ = digits[--length];
}

static void report_forbidden_call(int signal, siginfo_t *info, void *context) {
    (void)signal;
    char line[200];
    char *cursor = line;
    append_text(&cursor, "amber-vmm: thread ");
    append_number(&cursor, syscall(SYS_gettid));
    append_text(&cursor, " made system call ");
    append_number(&cursor, info->si_syscall);
    if (info->si_syscall == SYS_ioctl) {
        // The request tells which ioctl a list lacks (the second argument, in rsi on x86-64).
        append_text(&cursor, " (ioctl request ");
        append_hex(&cursor, (unsigned long)((ucontext_t *)context)->uc_mcontext.gregs[REG_RSI]);
        append_text(&cursor, ")");
    }
    append_text(&cursor, ", which its seccomp filter forbids; the VM stops\n");
    ssize_t ignored = write(2, line, (size_t)(cursor - line));
    (void)ignored;
    syscall(SYS_exit_group, 1);
}

int csystem_report_forbidden_calls(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = report_forbidden_call;
    action.sa_flags = SA_SIGINFO;
    sigfillset(&action.sa_mask);
    return sigaction(SIGSYS, &action, NULL);
}
