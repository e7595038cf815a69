// Swift cannot import the _IO* ioctl macros of <linux/kvm.h>; this shim exports them as constants.
#ifndef AMBER_CKVM_H
#define AMBER_CKVM_H

#include <linux/kvm.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>

extern const unsigned long CKVM_GET_API_VERSION;
extern const unsigned long CKVM_CREATE_VM;
extern const unsigned long CKVM_CHECK_EXTENSION;
extern const unsigned long CKVM_GET_VCPU_MMAP_SIZE;
extern const unsigned long CKVM_GET_SUPPORTED_CPUID;
extern const unsigned long CKVM_GET_MSR_INDEX_LIST;

extern const unsigned long CKVM_CREATE_VCPU;
extern const unsigned long CKVM_SET_USER_MEMORY_REGION;
extern const unsigned long CKVM_SET_TSS_ADDR;
extern const unsigned long CKVM_SET_IDENTITY_MAP_ADDR;
extern const unsigned long CKVM_CREATE_IRQCHIP;
extern const unsigned long CKVM_CREATE_PIT2;
extern const unsigned long CKVM_IRQ_LINE;
extern const unsigned long CKVM_IRQFD;
extern const unsigned long CKVM_IOEVENTFD;
extern const unsigned long CKVM_GET_IRQCHIP;
extern const unsigned long CKVM_SET_IRQCHIP;
extern const unsigned long CKVM_GET_PIT2;
extern const unsigned long CKVM_SET_PIT2;
extern const unsigned long CKVM_GET_CLOCK;
extern const unsigned long CKVM_SET_CLOCK;
extern const unsigned long CKVM_GET_DIRTY_LOG;
extern const unsigned long CKVM_ENABLE_CAP;

extern const unsigned long CKVM_RUN;
extern const unsigned long CKVM_GET_REGS;
extern const unsigned long CKVM_SET_REGS;
extern const unsigned long CKVM_GET_SREGS;
extern const unsigned long CKVM_SET_SREGS;
extern const unsigned long CKVM_GET_FPU;
extern const unsigned long CKVM_SET_FPU;
extern const unsigned long CKVM_GET_XSAVE;
extern const unsigned long CKVM_SET_XSAVE;
extern const unsigned long CKVM_GET_XCRS;
extern const unsigned long CKVM_SET_XCRS;
extern const unsigned long CKVM_GET_DEBUGREGS;
extern const unsigned long CKVM_SET_DEBUGREGS;
extern const unsigned long CKVM_GET_LAPIC;
extern const unsigned long CKVM_SET_LAPIC;
extern const unsigned long CKVM_GET_MSRS;
extern const unsigned long CKVM_SET_MSRS;
extern const unsigned long CKVM_GET_MP_STATE;
extern const unsigned long CKVM_SET_MP_STATE;
extern const unsigned long CKVM_GET_VCPU_EVENTS;
extern const unsigned long CKVM_SET_VCPU_EVENTS;
extern const unsigned long CKVM_SET_CPUID2;
extern const unsigned long CKVM_GET_CPUID2;
extern const unsigned long CKVM_GET_TSC_KHZ;
extern const unsigned long CKVM_SET_TSC_KHZ;
extern const unsigned long CKVM_KVMCLOCK_CTRL;
extern const unsigned long CKVM_SET_SIGNAL_MASK;
extern const unsigned long CKVM_GET_XSAVE2;

extern const unsigned long CUFFDIO_API;
extern const unsigned long CUFFDIO_REGISTER;
extern const unsigned long CUFFDIO_COPY;
extern const unsigned long CUFFDIO_ZEROPAGE;

#endif
