// The reference for amber-state-bench: the same KVM state ioctls issued from C with no
// encoding, no validation and no machine object around them, i.e. the floor any VMM pays.
// Prints capture_ms (every vCPU's state + PIT, clock, 3 irqchips) and restore_ms (new VM with
// irqchip, PIT, memory slot and vCPUs, then every SET in docs/KVM.md's order), medians in ms.
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define MAX_VCPUS 4
#define MAX_MSRS 256
#define MEMORY (64u << 20)

struct msrs { struct kvm_msrs header; struct kvm_msr_entry entries[MAX_MSRS]; };
struct cpuid { struct kvm_cpuid2 header; struct kvm_cpuid_entry2 entries[256]; };
struct vcpu_state {
    struct kvm_mp_state mp; struct kvm_regs regs; struct kvm_sregs sregs; struct kvm_xsave xsave;
    struct kvm_xcrs xcrs; struct kvm_debugregs debug; struct kvm_lapic_state lapic; int tsc_khz;
    struct cpuid cpuid; struct msrs msrs; struct kvm_vcpu_events events;
};

static int kvm;
static uint32_t msr_list[MAX_MSRS];
static int msr_count;
static void *memory;

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void check(int result, const char *what) {
    if (result < 0) { perror(what); exit(1); }
}

static int new_vm(int vcpus, int *fds) {
    int vm = ioctl(kvm, KVM_CREATE_VM, 0);
    check(vm, "KVM_CREATE_VM");
    check(ioctl(vm, KVM_SET_TSS_ADDR, 0xFFFBD000UL), "KVM_SET_TSS_ADDR");
    uint64_t identity = 0xFFFBC000;
    check(ioctl(vm, KVM_SET_IDENTITY_MAP_ADDR, &identity), "KVM_SET_IDENTITY_MAP_ADDR");
    check(ioctl(vm, KVM_CREATE_IRQCHIP, 0), "KVM_CREATE_IRQCHIP");
    struct kvm_pit_config pit = { .flags = 1 };
    check(ioctl(vm, KVM_CREATE_PIT2, &pit), "KVM_CREATE_PIT2");
    struct kvm_userspace_memory_region region = { 0, 0, 0, MEMORY, (uint64_t)memory };
    check(ioctl(vm, KVM_SET_USER_MEMORY_REGION, &region), "KVM_SET_USER_MEMORY_REGION");
    for (int i = 0; i < vcpus; i++) {
        fds[i] = ioctl(vm, KVM_CREATE_VCPU, i);
        check(fds[i], "KVM_CREATE_VCPU");
    }
    return vm;
}

static void capture(int vm, int vcpus, int *fds, struct vcpu_state *states, struct kvm_pit_state2 *pit,
                    struct kvm_clock_data *clock, struct kvm_irqchip *chips) {
    for (int i = 0; i < vcpus; i++) {
        struct vcpu_state *s = &states[i];
        int fd = fds[i];
        check(ioctl(fd, KVM_GET_MP_STATE, &s->mp), "GET_MP_STATE");
        check(ioctl(fd, KVM_GET_REGS, &s->regs), "GET_REGS");
        check(ioctl(fd, KVM_GET_SREGS, &s->sregs), "GET_SREGS");
        check(ioctl(fd, KVM_GET_XSAVE, &s->xsave), "GET_XSAVE");
        check(ioctl(fd, KVM_GET_XCRS, &s->xcrs), "GET_XCRS");
        check(ioctl(fd, KVM_GET_DEBUGREGS, &s->debug), "GET_DEBUGREGS");
        check(ioctl(fd, KVM_GET_LAPIC, &s->lapic), "GET_LAPIC");
        s->tsc_khz = ioctl(fd, KVM_GET_TSC_KHZ, 0);
        s->cpuid.header.nent = 256;
        check(ioctl(fd, KVM_GET_CPUID2, &s->cpuid), "GET_CPUID2");
        int done = 0, kept = 0;
        while (done < msr_count) {
            struct msrs request;
            int n = msr_count - done;
            request.header.nmsrs = n;
            for (int j = 0; j < n; j++) request.entries[j].index = msr_list[done + j];
            int read = ioctl(fd, KVM_GET_MSRS, &request);
            check(read, "GET_MSRS");
            memcpy(&s->msrs.entries[kept], request.entries, read * sizeof(struct kvm_msr_entry));
            kept += read;
            done += read < n ? read + 1 : n;
        }
        s->msrs.header.nmsrs = kept;
        check(ioctl(fd, KVM_GET_VCPU_EVENTS, &s->events), "GET_VCPU_EVENTS");
    }
    check(ioctl(vm, KVM_GET_PIT2, pit), "GET_PIT2");
    check(ioctl(vm, KVM_GET_CLOCK, clock), "GET_CLOCK");
    for (int c = 0; c < 3; c++) {
        chips[c].chip_id = c;
        check(ioctl(vm, KVM_GET_IRQCHIP, &chips[c]), "GET_IRQCHIP");
    }
}

static void restore(int vm, int vcpus, int *fds, struct vcpu_state *states, struct kvm_pit_state2 *pit,
                    struct kvm_clock_data *clock, struct kvm_irqchip *chips) {
    for (int i = 0; i < vcpus; i++) {
        struct vcpu_state *s = &states[i];
        int fd = fds[i];
        check(ioctl(fd, KVM_SET_CPUID2, &s->cpuid), "SET_CPUID2");
        check(ioctl(fd, KVM_SET_MP_STATE, &s->mp), "SET_MP_STATE");
        check(ioctl(fd, KVM_SET_REGS, &s->regs), "SET_REGS");
        check(ioctl(fd, KVM_SET_SREGS, &s->sregs), "SET_SREGS");
        check(ioctl(fd, KVM_SET_XSAVE, &s->xsave), "SET_XSAVE");
        check(ioctl(fd, KVM_SET_XCRS, &s->xcrs), "SET_XCRS");
        check(ioctl(fd, KVM_SET_DEBUGREGS, &s->debug), "SET_DEBUGREGS");
        check(ioctl(fd, KVM_SET_LAPIC, &s->lapic), "SET_LAPIC");
        check(ioctl(fd, KVM_SET_MSRS, &s->msrs), "SET_MSRS");
        s->events.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR;
        check(ioctl(fd, KVM_SET_VCPU_EVENTS, &s->events), "SET_VCPU_EVENTS");
        ioctl(fd, KVM_KVMCLOCK_CTRL, 0);
    }
    check(ioctl(vm, KVM_SET_PIT2, pit), "SET_PIT2");
    struct kvm_clock_data set_clock = *clock;
    set_clock.flags = 0;
    check(ioctl(vm, KVM_SET_CLOCK, &set_clock), "SET_CLOCK");
    for (int c = 0; c < 3; c++) check(ioctl(vm, KVM_SET_IRQCHIP, &chips[c]), "SET_IRQCHIP");
}

static int compare(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    int vcpus = argc > 1 ? atoi(argv[1]) : 1, rounds = argc > 2 ? atoi(argv[2]) : 50;
    if (vcpus < 1 || vcpus > MAX_VCPUS || rounds < 1) { fprintf(stderr, "usage: %s vcpus(1-4) rounds\n", argv[0]); return 2; }
    kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    check(kvm, "/dev/kvm");
    struct { struct kvm_msr_list header; uint32_t indices[MAX_MSRS]; } list = { .header.nmsrs = MAX_MSRS };
    check(ioctl(kvm, KVM_GET_MSR_INDEX_LIST, &list), "KVM_GET_MSR_INDEX_LIST");
    for (unsigned i = 0; i < list.header.nmsrs; i++)
        if (list.indices[i] != 0x17B) msr_list[msr_count++] = list.indices[i];
    memory = mmap(NULL, MEMORY, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    static struct cpuid supported = { .header.nent = 256 };
    check(ioctl(kvm, KVM_GET_SUPPORTED_CPUID, &supported), "KVM_GET_SUPPORTED_CPUID");

    int fds[MAX_VCPUS];
    int vm = new_vm(vcpus, fds);
    for (int i = 0; i < vcpus; i++) check(ioctl(fds[i], KVM_SET_CPUID2, &supported), "SET_CPUID2");
    static struct vcpu_state states[MAX_VCPUS];
    struct kvm_pit_state2 pit;
    struct kvm_clock_data clock;
    struct kvm_irqchip chips[3];
    double *capture_ms = calloc(rounds, sizeof(double)), *restore_ms = calloc(rounds, sizeof(double));
    for (int r = 0; r < rounds; r++) {
        double start = now_ms();
        capture(vm, vcpus, fds, states, &pit, &clock, chips);
        capture_ms[r] = now_ms() - start;
    }
    for (int r = 0; r < rounds; r++) {
        int target_fds[MAX_VCPUS];
        double start = now_ms();
        int target = new_vm(vcpus, target_fds);
        restore(target, vcpus, target_fds, states, &pit, &clock, chips);
        restore_ms[r] = now_ms() - start;
        for (int i = 0; i < vcpus; i++) close(target_fds[i]);
        close(target);
    }
    qsort(capture_ms, rounds, sizeof(double), compare);
    qsort(restore_ms, rounds, sizeof(double), compare);
    printf("vcpus=%d msrs=%d capture_ms=%.3f restore_ms=%.3f\n", vcpus, states[0].msrs.header.nmsrs,
           capture_ms[rounds / 2], restore_ms[rounds / 2]);
    return 0;
}
