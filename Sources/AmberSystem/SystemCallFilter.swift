import CSystem
import Glibc

/// amber-vmm's seccomp-BPF filters (the allow-lists are in CSystem/syscall_filters.c, where the system
/// call numbers are). A forbidden call raises SIGSYS; the handler installed here logs the thread and the
/// call on stderr and ends the process with status 1.
public enum SystemCallFilter {
    /// Every thread of the process (present and future): installed once, when amber-vmm is confined.
    public static func confineProcess() throws {
        guard csystem_report_forbidden_calls() == 0 else { throw SystemError("sigaction SIGSYS") }
        guard csystem_filter_amber_vmm_process() == 0 else { throw SystemError("seccomp (every thread)") }
    }

    /// The calling vCPU thread, on top of the process's filter: before its first KVM_RUN.
    public static func confineVCPUThread() throws {
        guard csystem_filter_vcpu_thread() == 0 else { throw SystemError("seccomp (vCPU thread)") }
    }

    /// The calling virtio device worker thread, on top of the process's filter.
    public static func confineDeviceThread() throws {
        guard csystem_filter_device_thread() == 0 else { throw SystemError("seccomp (device thread)") }
    }

    /// The calling virtio network device worker thread, on top of the process's filter.
    public static func confineNetworkDeviceThread() throws {
        guard csystem_filter_network_device_thread() == 0 else { throw SystemError("seccomp (network device thread)") }
    }

    /// Makes a call no filter allows (mount): the filter's self-test; the process ends if filters are on.
    public static func makeForbiddenCall() {
        _ = csystem_make_forbidden_call()
    }

    /// Makes an ioctl no confined thread may make (KVM_CREATE_VM): the self-test of the ioctl lists.
    public static func makeForbiddenIoctl() {
        _ = csystem_make_forbidden_ioctl()
    }
}
