#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <signal.h>
#include <sys/prctl.h>
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
