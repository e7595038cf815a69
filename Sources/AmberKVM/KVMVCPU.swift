import AmberMachineState
import AmberSystem
import CKVM
import Glibc

/// One virtual CPU: KVM_RUN over its shared `kvm_run` area, and every piece of its state.
/// `run()` is called by one thread only; `requestImmediateExit` may be called from any thread.
public final class KVMVCPU: Sendable {
    public let id: UInt32
    public let descriptor: FileDescriptor
    private let runArea: MappedRegion

    // kvm_run layout (checked against <linux/kvm.h> in the tests): the exit union starts at 0x20,
    // `immediate_exit` is byte 1.
    static let exitUnionOffset = 0x20
    static let immediateExitOffset = 1

    init(id: UInt32, descriptor: FileDescriptor, runArea: MappedRegion) {
        self.id = id
        self.descriptor = descriptor
        self.runArea = runArea
    }

    private var fd: Int32 { descriptor.rawValue }
    private var sharedRun: UnsafeMutablePointer<kvm_run> { runArea.base.assumingMemoryBound(to: kvm_run.self) }

    /// When set, KVM_RUN returns EINTR at once instead of entering the guest. Set it, then signal
    /// the vCPU's thread, and KVM_RUN cannot miss the kick whether it is inside or about to enter.
    public var immediateExit: Bool {
        // A plain byte access is enough: KVM reads the byte once on entry, and the signal that
        // follows a store from another thread orders it for the vCPU thread.
        get { runArea.base.load(fromByteOffset: Self.immediateExitOffset, as: UInt8.self) != 0 }
        set { runArea.base.storeBytes(of: newValue ? 1 : 0, toByteOffset: Self.immediateExitOffset, as: UInt8.self) }
    }

    /// Enters the guest until it exits to userspace.
    public func run() throws -> VCPUExit {
        do {
            try kvmIOControl(fd, CKVM_RUN, nil, "KVM_RUN (vCPU \(id))", retryInterrupts: false)
        } catch let error as KVMError where error.errno == EINTR || error.errno == EAGAIN {
            // EAGAIN: an application processor waiting for INIT/SIPI woke up; enter again.
            return .interrupted
        }
        let base = runArea.base
        let union = base + Self.exitUnionOffset
        switch sharedRun.pointee.exit_reason {
        case ExitReason.io:
            let dataOffset = union.load(fromByteOffset: 8, as: UInt64.self)
            return .io(
                PortAccess(
                    port: union.load(fromByteOffset: 2, as: UInt16.self),
                    size: Int(union.load(fromByteOffset: 1, as: UInt8.self)),
                    isWrite: union.load(as: UInt8.self) == UInt8(KVM_EXIT_IO_OUT),
                    count: Int(union.load(fromByteOffset: 4, as: UInt32.self)),
                    data: base + Int(dataOffset)))
        case ExitReason.mmio:
            return .mmio(
                MMIOAccess(
                    address: union.load(as: UInt64.self),
                    length: Int(union.load(fromByteOffset: 16, as: UInt32.self)),
                    isWrite: union.load(fromByteOffset: 20, as: UInt8.self) != 0,
                    data: union + 8))
        case ExitReason.hlt:
            return .halt
        case ExitReason.shutdown:
            return .shutdown
        case ExitReason.failEntry:
            return .failEntry(
                hardwareReason: union.load(as: UInt64.self),
                cpu: union.load(fromByteOffset: 8, as: UInt32.self))
        case ExitReason.internalError:
            return .internalError(suberror: union.load(as: UInt32.self))
        case ExitReason.systemEvent:
            return .systemEvent(type: union.load(as: UInt32.self))
        case ExitReason.intr:
            return .interrupted
        case let reason:
            return .other(reason: reason)
        }
    }

    // MARK: state

    private func get<T>(_ request: UInt, _ initial: T, _ name: String) throws -> T {
        var value = initial
        try kvmIOControl(fd, request, &value, "\(name) (vCPU \(id))")
        return value
    }

    private func set<T>(_ request: UInt, _ value: T, _ name: String) throws {
        var value = value
        try kvmIOControl(fd, request, &value, "\(name) (vCPU \(id))")
    }

    public func registers() throws -> kvm_regs { try get(CKVM_GET_REGS, kvm_regs(), "KVM_GET_REGS") }
    public func setRegisters(_ value: kvm_regs) throws { try set(CKVM_SET_REGS, value, "KVM_SET_REGS") }

    public func specialRegisters() throws -> kvm_sregs { try get(CKVM_GET_SREGS, kvm_sregs(), "KVM_GET_SREGS") }
    public func setSpecialRegisters(_ value: kvm_sregs) throws { try set(CKVM_SET_SREGS, value, "KVM_SET_SREGS") }

    public func fpu() throws -> kvm_fpu { try get(CKVM_GET_FPU, kvm_fpu(), "KVM_GET_FPU") }
    public func setFPU(_ value: kvm_fpu) throws { try set(CKVM_SET_FPU, value, "KVM_SET_FPU") }

    /// The legacy 4096-byte XSAVE area.
    public func xsave() throws -> kvm_xsave { try get(CKVM_GET_XSAVE, kvm_xsave(), "KVM_GET_XSAVE") }
    public func setXSave(_ value: kvm_xsave) throws { try set(CKVM_SET_XSAVE, value, "KVM_SET_XSAVE") }

    public func xcrs() throws -> kvm_xcrs { try get(CKVM_GET_XCRS, kvm_xcrs(), "KVM_GET_XCRS") }
    public func setXCRs(_ value: kvm_xcrs) throws { try set(CKVM_SET_XCRS, value, "KVM_SET_XCRS") }

    public func debugRegisters() throws -> kvm_debugregs { try get(CKVM_GET_DEBUGREGS, kvm_debugregs(), "KVM_GET_DEBUGREGS") }
    public func setDebugRegisters(_ value: kvm_debugregs) throws { try set(CKVM_SET_DEBUGREGS, value, "KVM_SET_DEBUGREGS") }

    /// The local APIC's 1024-byte register page.
    public func lapic() throws -> kvm_lapic_state { try get(CKVM_GET_LAPIC, kvm_lapic_state(), "KVM_GET_LAPIC") }
    public func setLAPIC(_ value: kvm_lapic_state) throws { try set(CKVM_SET_LAPIC, value, "KVM_SET_LAPIC") }

    public func mpState() throws -> UInt32 { try get(CKVM_GET_MP_STATE, kvm_mp_state(), "KVM_GET_MP_STATE").mp_state }
    public func setMPState(_ state: UInt32) throws { try set(CKVM_SET_MP_STATE, kvm_mp_state(mp_state: state), "KVM_SET_MP_STATE") }

    public func vcpuEvents() throws -> kvm_vcpu_events { try get(CKVM_GET_VCPU_EVENTS, kvm_vcpu_events(), "KVM_GET_VCPU_EVENTS") }
    public func setVCPUEvents(_ value: kvm_vcpu_events) throws { try set(CKVM_SET_VCPU_EVENTS, value, "KVM_SET_VCPU_EVENTS") }

    public func tscKHz() throws -> UInt32 {
        UInt32(try kvmIOControl(fd, CKVM_GET_TSC_KHZ, nil, "KVM_GET_TSC_KHZ (vCPU \(id))"))
    }

    public func setTSCKHz(_ khz: UInt32) throws {
        try kvmIOControl(fd, CKVM_SET_TSC_KHZ, value: UInt64(khz), "KVM_SET_TSC_KHZ (vCPU \(id))")
    }

    /// Tells the guest's kvmclock that the vCPU was stopped on purpose, so the guest does not report
    /// a soft lockup after a pause. KVMs without kvmclock answer EINVAL, which callers may ignore.
    public func kvmclockControl() throws {
        try kvmIOControl(fd, CKVM_KVMCLOCK_CTRL, nil, "KVM_KVMCLOCK_CTRL (vCPU \(id))")
    }

    public func setCPUID(_ entries: [kvm_cpuid_entry2]) throws {
        let buffer = CPUIDBuffer(entries: entries)
        try kvmIOControl(fd, CKVM_SET_CPUID2, buffer.raw, "KVM_SET_CPUID2 (vCPU \(id))")
    }

    public func cpuid() throws -> [kvm_cpuid_entry2] {
        var capacity = 128
        while true {
            let buffer = CPUIDBuffer(capacity: capacity)
            do {
                try kvmIOControl(fd, CKVM_GET_CPUID2, buffer.raw, "KVM_GET_CPUID2 (vCPU \(id))")
                return buffer.entries
            } catch let error as KVMError where error.errno == E2BIG && capacity < 4096 {
                capacity *= 2
            }
        }
    }

    /// Reads the MSRs in `indices`; KVM stops at the first one it refuses, so the result holds the
    /// values of the leading entries it could read, in order.
    public func msrs(_ indices: [UInt32]) throws -> [MSREntry] {
        let buffer = MSRBuffer(entries: indices.map { MSREntry(index: $0, value: 0) })
        let count = try kvmIOControl(fd, CKVM_GET_MSRS, buffer.raw, "KVM_GET_MSRS (vCPU \(id))")
        return Array(buffer.entries.prefix(Int(count)))
    }

    /// Writes every entry or throws naming the first MSR KVM refused.
    public func setMSRs(_ entries: [MSREntry]) throws {
        let buffer = MSRBuffer(entries: entries)
        let count = Int(try kvmIOControl(fd, CKVM_SET_MSRS, buffer.raw, "KVM_SET_MSRS (vCPU \(id))"))
        if count < entries.count {
            throw KVMError.msrRefused(msr: entries[count].index, failedIndex: count)
        }
    }
}
