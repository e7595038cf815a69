#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <grp.h>
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

const unsigned int CSYSTEM_MFD_CLOEXEC = MFD_CLOEXEC;
const unsigned int CSYSTEM_MFD_ALLOW_SEALING = MFD_ALLOW_SEALING;

int csystem_memfd_create(const char *name, unsigned int flags) {
    return memfd_create(name, flags);
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

/* Added in Linux 6.7; Debian 12's headers predate them. */
#ifndef UFFD_FEATURE_WP_ASYNC
#define UFFD_FEATURE_WP_ASYNC (1 << 15)
#endif
#ifndef PAGEMAP_SCAN
struct page_region { uint64_t start, end, categories; };
struct pm_scan_arg {
    uint64_t size, flags, start, end, walk_end, vec, vec_len, max_pages;
    uint64_t category_inverted, category_mask, category_anyof_mask, return_mask;
};
#define PAGEMAP_SCAN _IOWR('f', 16, struct pm_scan_arg)
#define PM_SCAN_WP_MATCHING (1 << 0)
#define PM_SCAN_CHECK_WPASYNC (1 << 1)
#define PAGE_IS_WRITTEN (1 << 1)
#endif

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
