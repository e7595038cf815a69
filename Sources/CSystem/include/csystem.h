// Linux calls that Glibc's Swift module does not expose (they need _GNU_SOURCE or are raw syscalls).
#ifndef AMBER_CSYSTEM_H
#define AMBER_CSYSTEM_H

int csystem_memfd_create(const char *name, unsigned int flags);
int csystem_userfaultfd(int flags);

extern const unsigned int CSYSTEM_MFD_CLOEXEC;
extern const unsigned int CSYSTEM_MFD_ALLOW_SEALING;

#include <sys/eventfd.h>
#include <sys/epoll.h>

#endif
