import AmberMachineState
import CKVM
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc

extension KVMSystem {
    /// How many bytes a vCPU's XSAVE area takes: KVM_CAP_XSAVE2's size where the host needs more
    /// than the legacy 4096 (AMX), otherwise 4096.
    public var xsaveSize: Int {
        max(Int(checkExtension(KVM_CAP_XSAVE2)), MemoryLayout<kvm_xsave>.size)
    }

    /// The MSRs a snapshot saves: KVM's index list without MCG_CTL, which KVM lists but refuses to
    /// set unless the vCPU's machine-check banks were set up (KVM_X86_SETUP_MCE), which we never do.
    public func snapshotMSRIndices() throws -> [UInt32] {
        try msrIndexList().filter { $0 != KVMVCPU.mcgControlMSR }
    }
}

extension KVMVCPU {
    static let mcgControlMSR: UInt32 = 0x17B
    static let tscMSR: UInt32 = 0x10
    /// Must be written after the TSC, or the deadline is measured against the old count.
    static let tscDeadlineMSR: UInt32 = 0x6E0
    /// MSRs read per KVM_GET_MSRS call; KVM stops at the first it refuses, so the rest of that chunk is retried.
    static let msrChunkSize = 64
    /// Differences in TSC frequency below this many parts per million are left alone, as NTP would.
    static let tscTolerancePPM: UInt64 = 250

    /// Reads every piece of this vCPU's state, in the order docs/KVM.md gives (MP state first, events
    /// last). The vCPU must be out of KVM_RUN with its last I/O completed (`Machine.pause` does both).
    public func captureState(msrIndices: [UInt32], xsaveSize: Int) throws -> VCPUState {
        let mp = try mpState()
        let regs = try registers()
        let sregs = try specialRegisters()
        let xsaveArea = try xsaveBytes(size: xsaveSize)
        let xcrValues = try xcrs()
        let debug = try debugRegisters()
        let apic = try lapic()
        let khz = (try? tscKHz()) ?? 0
        let cpuidEntries = try cpuid()
        let msrValues = try readableMSRs(msrIndices)
        let pending = try vcpuEvents()
        var cpuidBytes = Data(capacity: cpuidEntries.count * MemoryLayout<kvm_cpuid_entry2>.stride)
        for entry in cpuidEntries { cpuidBytes.append(VMStateBytes.of(entry)) }
        return VCPUState(
            id: id, mpState: mp, registers: VMStateBytes.of(regs), specialRegisters: VMStateBytes.of(sregs),
            xsave: xsaveArea, xcrs: VMStateBytes.of(xcrValues), debugRegisters: VMStateBytes.of(debug),
            lapic: VMStateBytes.of(apic), tscKHz: khz, cpuid: cpuidBytes, msrs: msrValues,
            events: VMStateBytes.of(pending))
    }

    /// The values of every MSR in `indices` that KVM will read, skipping the ones it refuses.
    public func readableMSRs(_ indices: [UInt32]) throws -> [MSREntry] {
        var result: [MSREntry] = []
        result.reserveCapacity(indices.count)
        var remaining = indices[...]
        while !remaining.isEmpty {
            let chunk = Array(remaining.prefix(Self.msrChunkSize))
            let read = try msrs(chunk)
            result += read
            // KVM stops at the first refused MSR: skip it and carry on after it.
            remaining = remaining.dropFirst(read.count < chunk.count ? read.count + 1 : chunk.count)
        }
        return result
    }

    /// Puts a captured state back, in the order KVM requires (docs/KVM.md): TSC frequency, CPUID
    /// (before the first KVM_RUN), MP state, registers (which clear pending exceptions, so before the
    /// events), special registers (APIC base), XSAVE, XCRs, debug registers, LAPIC (after the APIC
    /// base, before the MSRs), MSRs with the TSC deadline after the TSC, events, then kvmclock's
    /// "stopped on purpose" flag. Call before this vCPU first runs. `xsaveSize` is the host's
    /// (`KVMSystem.xsaveSize`).
    public func restoreState(_ state: VCPUState, xsaveSize: Int) throws {
        try state.validate()
        guard state.id == id else {
            throw VMStateError("saved state of vCPU \(state.id) cannot be restored onto vCPU \(id)")
        }
        try restoreTSCFrequency(state.tscKHz)
        try setCPUID(try state.decodedCPUID())
        try setMPState(state.mpState)
        try setRegisters(try state.decodedRegisters())
        try setSpecialRegisters(try state.decodedSpecialRegisters())
        try setXSaveBytes(state.xsave, hostSize: xsaveSize)
        try setXCRs(try VMStateBytes.load(kvm_xcrs.self, from: state.xcrs, field: "vCPU \(id) XCRs"))
        try setDebugRegisters(try VMStateBytes.load(kvm_debugregs.self, from: state.debugRegisters, field: "vCPU \(id) debug registers"))
        try setLAPIC(try VMStateBytes.load(kvm_lapic_state.self, from: state.lapic, field: "vCPU \(id) LAPIC"))
        try setMSRs(state.msrs.filter { $0.index != Self.tscDeadlineMSR })
        try setMSRs(state.msrs.filter { $0.index == Self.tscDeadlineMSR })
        var events = try VMStateBytes.load(kvm_vcpu_events.self, from: state.events, field: "vCPU \(id) events")
        // GET reports only the optional parts it filled; SET takes the NMI and SIPI parts only when asked.
        events.flags |= UInt32(KVM_VCPUEVENT_VALID_NMI_PENDING | KVM_VCPUEVENT_VALID_SIPI_VECTOR)
        try setVCPUEvents(events)
        do {
            try kvmclockControl()
        } catch let error as KVMError where error.errno == EINVAL {
            // No kvmclock in this guest (or this KVM): nothing to tell it.
        }
    }

    private func restoreTSCFrequency(_ savedKHz: UInt32) throws {
        guard savedKHz != 0, let current = try? tscKHz() else { return }
        let difference = UInt64(abs(Int64(current) - Int64(savedKHz)))
        guard difference * 1_000_000 > UInt64(savedKHz) * Self.tscTolerancePPM else { return }
        do {
            try setTSCKHz(savedKHz)
        } catch {
            throw VMStateError(
                "the snapshot's guest TSC runs at \(savedKHz) kHz, this host's at \(current) kHz, and KVM cannot scale it (\(error)): restore on a host with the same TSC frequency"
            )
        }
    }

    private func xsaveBytes(size: Int) throws -> Data {
        var area = Data(count: size)
        let request = size > MemoryLayout<kvm_xsave>.size ? CKVM_GET_XSAVE2 : CKVM_GET_XSAVE
        _ = try area.withUnsafeMutableBytes { raw in
            try kvmIOControl(descriptor.rawValue, request, raw.baseAddress, "KVM_GET_XSAVE (vCPU \(id))")
        }
        return area
    }

    /// KVM_SET_XSAVE reads as many bytes as the host's XSAVE size: a smaller saved area is padded with
    /// zeros (components it does not mention stay in their initial state).
    private func setXSaveBytes(_ saved: Data, hostSize: Int) throws {
        guard saved.count <= hostSize else {
            throw VMStateError(
                "the snapshot's vCPU \(id) XSAVE area is \(saved.count) bytes but this host's is \(hostSize): restore on a host with the same CPU features"
            )
        }
        var area = saved
        if area.count < hostSize { area.append(Data(count: hostSize - area.count)) }
        _ = try area.withUnsafeMutableBytes { raw in
            try kvmIOControl(descriptor.rawValue, CKVM_SET_XSAVE, raw.baseAddress, "KVM_SET_XSAVE (vCPU \(id))")
        }
    }
}
