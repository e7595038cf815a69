import CKVM
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Everything KVM exposes about one vCPU. Captured by `KVMVCPU.captureState` while the vCPU is out of
/// KVM_RUN, put back by `KVMVCPU.restoreState`. Struct fields hold the kernel structs' bytes (their
/// layout is KVM's stable ABI); `validate()` checks every size and count before any of it reaches KVM.
public struct VCPUState: Codable, Equatable, Sendable {
    public var id: UInt32
    public var mpState: UInt32
    /// `kvm_regs`
    public var registers: Data
    /// `kvm_sregs`
    public var specialRegisters: Data
    /// The XSAVE area: 4096 bytes (`kvm_xsave`), or KVM_CAP_XSAVE2's larger size on hosts with AMX.
    public var xsave: Data
    /// `kvm_xcrs`
    public var xcrs: Data
    /// `kvm_debugregs`
    public var debugRegisters: Data
    /// `kvm_lapic_state`: the local APIC's register page, timer count included.
    public var lapic: Data
    /// The guest's TSC frequency; 0 when KVM could not report it.
    public var tscKHz: UInt32
    /// `kvm_cpuid_entry2` records back to back.
    public var cpuid: Data
    /// Every MSR KVM would read, in KVM's index-list order.
    public var msrs: [MSREntry]
    /// `kvm_vcpu_events`: pending exceptions, interrupts, NMIs, SIPI, interrupt shadow.
    public var events: Data

    public static let maximumXSaveBytes = 1 << 20
    public static let maximumCPUIDEntries = 512
    public static let maximumMSRs = 4096
    /// The highest vCPU id KVM's x2APIC ids allow a machine of ours to have.
    public static let maximumID: UInt32 = 4095

    public init(
        id: UInt32, mpState: UInt32, registers: Data, specialRegisters: Data, xsave: Data, xcrs: Data,
        debugRegisters: Data, lapic: Data, tscKHz: UInt32, cpuid: Data, msrs: [MSREntry], events: Data
    ) {
        self.id = id
        self.mpState = mpState
        self.registers = registers
        self.specialRegisters = specialRegisters
        self.xsave = xsave
        self.xcrs = xcrs
        self.debugRegisters = debugRegisters
        self.lapic = lapic
        self.tscKHz = tscKHz
        self.cpuid = cpuid
        self.msrs = msrs
        self.events = events
    }

    /// Throws naming the first field whose size or count is impossible.
    public func validate() throws {
        let name = "vCPU \(id)"
        guard id <= Self.maximumID else { throw VMStateError("saved vCPU id \(id) is above \(Self.maximumID): the state is corrupt") }
        try VMStateBytes.check(registers, is: MemoryLayout<kvm_regs>.size, field: "\(name) registers")
        try VMStateBytes.check(specialRegisters, is: MemoryLayout<kvm_sregs>.size, field: "\(name) special registers")
        try VMStateBytes.check(xcrs, is: MemoryLayout<kvm_xcrs>.size, field: "\(name) XCRs")
        try VMStateBytes.check(debugRegisters, is: MemoryLayout<kvm_debugregs>.size, field: "\(name) debug registers")
        try VMStateBytes.check(lapic, is: MemoryLayout<kvm_lapic_state>.size, field: "\(name) LAPIC")
        try VMStateBytes.check(events, is: MemoryLayout<kvm_vcpu_events>.size, field: "\(name) events")
        guard xsave.count >= MemoryLayout<kvm_xsave>.size, xsave.count <= Self.maximumXSaveBytes else {
            throw VMStateError(
                "saved \(name) XSAVE area is \(xsave.count) bytes, outside \(MemoryLayout<kvm_xsave>.size)...\(Self.maximumXSaveBytes): the state is corrupt"
            )
        }
        let entrySize = MemoryLayout<kvm_cpuid_entry2>.stride
        guard cpuid.count % entrySize == 0, cpuid.count / entrySize <= Self.maximumCPUIDEntries else {
            throw VMStateError(
                "saved \(name) CPUID is \(cpuid.count) bytes, not up to \(Self.maximumCPUIDEntries) entries of \(entrySize): the state is corrupt"
            )
        }
        guard msrs.count <= Self.maximumMSRs else {
            throw VMStateError("saved \(name) has \(msrs.count) MSRs, more than \(Self.maximumMSRs): the state is corrupt")
        }
    }

    public func decodedRegisters() throws -> kvm_regs {
        try VMStateBytes.load(kvm_regs.self, from: registers, field: "vCPU \(id) registers")
    }

    public func decodedSpecialRegisters() throws -> kvm_sregs {
        try VMStateBytes.load(kvm_sregs.self, from: specialRegisters, field: "vCPU \(id) special registers")
    }

    public func decodedCPUID() throws -> [kvm_cpuid_entry2] {
        let entrySize = MemoryLayout<kvm_cpuid_entry2>.stride
        guard cpuid.count % entrySize == 0 else {
            throw VMStateError("saved vCPU \(id) CPUID is \(cpuid.count) bytes, not whole entries of \(entrySize)")
        }
        return cpuid.withUnsafeBytes { raw in
            (0..<(cpuid.count / entrySize)).map { raw.loadUnaligned(fromByteOffset: $0 * entrySize, as: kvm_cpuid_entry2.self) }
        }
    }
}
