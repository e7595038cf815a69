#define _GNU_SOURCE
#include <sys/mman.h>
#include <sys/eventfd.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "csystem.h"

const unsigned int CSYSTEM_MFD_CLOEXEC = MFD_CLOEXEC;
const unsigned int CSYSTEM_MFD_ALLOW_SEALING = MFD_ALLOW_SEALING;

int csystem_memfd_create(const char *name, unsigned int flags) {
    return memfd_create(name, flags);
}

int csystem_userfaultfd(int flags) {
    return (int)syscall(SYS_userfaultfd, flags);
}
