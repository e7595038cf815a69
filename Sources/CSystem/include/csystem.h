// Linux calls that Glibc's Swift module does not expose (they need _GNU_SOURCE or are raw syscalls).
#ifndef AMBER_CSYSTEM_H
#define AMBER_CSYSTEM_H

int csystem_memfd_create(const char *name, unsigned int flags);
int csystem_userfaultfd(int flags);
/// Forks a child that holds a copy-on-write view of this process's private memory and does nothing
/// else: it blocks every signal, closes every descriptor and sleeps until SIGKILL (or until the
/// forking thread dies: PR_SET_PDEATHSIG). Returns the child's pid, or -1 with errno set.
int csystem_fork_memory_holder(void);

extern const unsigned int CSYSTEM_MFD_CLOEXEC;
extern const unsigned int CSYSTEM_MFD_ALLOW_SEALING;

#include <sys/eventfd.h>
#include <sys/epoll.h>

#endif
