import AmberMachineState
import AmberSystem
import CKVM
import Foundation
import Testing
@testable import AmberKVM

/// A VM with an in-kernel irqchip and PIT, 64 KiB of RAM and one vCPU with the host's CPUID.
private struct StateVM {
    let system: KVMSystem
    let vm: KVMVirtualMachine
    let vcpu: KVMVCPU
    let memory: MappedRegion

    init() throws {
        system = try KVMSystem()
        vm = try system.createVM()
        try vm.setTSSAddress(0xFFFB_D000)
        try vm.setIdentityMapAddress(0xFFFB_C000)
        try vm.createIRQChip()
        try vm.createPIT2()
        memory = try MappedRegion(size: 0x10000)
        try vm.setMemoryRegion(slot: 0, guestAddress: 0, size: 0x10000, hostAddress: memory.base)
        vcpu = try vm.createVCPU(id: 0)
        try vcpu.setCPUID(try system.supportedCPUID())
    }

    func capture() throws -> (VCPUState, VMState) {
        (try vcpu.captureState(msrIndices: try system.snapshotMSRIndices(), xsaveSize: system.xsaveSize), try vm.captureState())
    }
}

private func bytes<T>(_ value: T) -> Data { withUnsafeBytes(of: value) { Data($0) } }

@Suite("vCPU and VM state capture and restore", .enabled(if: FileManager.default.fileExists(atPath: "/dev/kvm")), .serialized)
struct VCPUStateTests {
    /// Puts distinctive values into every part of a vCPU and the VM that software can set.
    private func distinctiveState(_ machine: StateVM) throws {
        let vcpu = machine.vcpu
        var regs = kvm_regs()
        (regs.rax, regs.rbx, regs.rcx, regs.rdx) = (0x1111_2222_3333_4444, 0x5555, 0x6666, 0x7777)
        (regs.rsi, regs.rdi, regs.rsp, regs.rbp) = (0x8888, 0x9999, 0x7000, 0xAAAA)
        (regs.r8, regs.r15, regs.rip, regs.rflags) = (0xBBBB, 0xCCCC, 0x1234, 0x202)
        try vcpu.setRegisters(regs)
        var sregs = try vcpu.specialRegisters()
        sregs.cs.base = 0
        sregs.cs.selector = 0
        sregs.cr4 |= 0x600 | 0x4_0000
        try vcpu.setSpecialRegisters(sregs)
        var xcrs = kvm_xcrs()
        xcrs.nr_xcrs = 1
        xcrs.xcrs.0.value = 7
        try vcpu.setXCRs(xcrs)
        var xsave = try vcpu.xsave()
        withUnsafeMutableBytes(of: &xsave.region) { area in
            for offset in 160..<288 { area[offset] = UInt8(truncatingIfNeeded: offset &* 3) }  // xmm0-7
            for offset in 576..<832 { area[offset] = UInt8(truncatingIfNeeded: offset &* 5) }  // ymm upper halves
            area.storeBytes(of: UInt64(7), toByteOffset: 512, as: UInt64.self)
        }
        try vcpu.setXSave(xsave)
        var debug = try vcpu.debugRegisters()
        debug.db = (0x1000, 0x2000, 0x3000, 0x4000)
        try vcpu.setDebugRegisters(debug)
        var lapic = try vcpu.lapic()
        withUnsafeMutableBytes(of: &lapic.regs) { page in
            page.storeBytes(of: UInt32(0x1FF), toByteOffset: 0xF0, as: UInt32.self)  // enabled
            page.storeBytes(of: UInt32(0x00041), toByteOffset: 0x320, as: UInt32.self)  // timer LVT, one-shot, vector 0x41
            page.storeBytes(of: UInt32(0x3), toByteOffset: 0x3E0, as: UInt32.self)  // divide by 16
        }
        try vcpu.setLAPIC(lapic)
        try vcpu.setMSRs([
            MSREntry(index: 0xC000_0102, value: 0xFFFF_8000_1234_5000),  // KERNEL_GS_BASE
            MSREntry(index: 0x174, value: 0x10),
        ])  // SYSENTER_CS
        var events = try vcpu.vcpuEvents()
        events.nmi.pending = 1
        events.flags |= UInt32(KVM_VCPUEVENT_VALID_NMI_PENDING)
        try vcpu.setVCPUEvents(events)
        var pit = try machine.vm.pit()
        pit.channels.0.count = 0x1234
        try machine.vm.setPIT(pit)
        var master = try machine.vm.irqChip(.picMaster)
        master.chip.pic.imr = 0xA5
        try machine.vm.setIRQChip(master)
    }

    @Test func everyPieceArrivesOnAFreshVCPU() throws {
        let source = try StateVM()
        try distinctiveState(source)
        let (vcpuState, vmState) = try source.capture()
        #expect(vcpuState.msrs.contains(MSREntry(index: 0xC000_0102, value: 0xFFFF_8000_1234_5000)))
        #expect(!vcpuState.msrs.contains { $0.index == KVMVCPU.mcgControlMSR })

        let target = try StateVM()
        try target.vcpu.restoreState(vcpuState, xsaveSize: target.system.xsaveSize)
        try target.vm.restoreState(vmState)
        let (restored, restoredVM) = try target.capture()

        #expect(restored.mpState == vcpuState.mpState)
        #expect(restored.registers == vcpuState.registers)
        #expect(restored.specialRegisters == vcpuState.specialRegisters)
        #expect(restored.xsave == vcpuState.xsave)
        #expect(restored.xcrs == vcpuState.xcrs)
        #expect(restored.debugRegisters == vcpuState.debugRegisters)
        #expect(restored.lapic == vcpuState.lapic)
        #expect(restored.cpuid == vcpuState.cpuid)
        #expect(restored.events == vcpuState.events)
        #expect(restored.tscKHz == vcpuState.tscKHz)
        // The TSC runs on between the captures; every other MSR must match.
        let timeDependent: Set<UInt32> = [KVMVCPU.tscMSR]
        #expect(restored.msrs.filter { !timeDependent.contains($0.index) } == vcpuState.msrs.filter { !timeDependent.contains($0.index) })
        #expect(restoredVM.irqChips == vmState.irqChips)
        let restoredPIT = try target.vm.pit()
        #expect(restoredPIT.channels.0.count == 0x1234)
        #expect(restoredVM.kvmclockNanoseconds >= vmState.kvmclockNanoseconds)
    }

    @Test func kvmclockContinuesFromTheCapturedReadingNotFromTheHostsClock() throws {
        let source = try StateVM()
        let (_, vmState) = try source.capture()
        let flags = try VMStateBytes.load(kvm_clock_data.self, from: vmState.clock, field: "kvmclock").flags
        Thread.sleep(forTimeInterval: 0.5)
        let target = try StateVM()
        try target.vm.restoreState(vmState)
        let restored = try target.vm.clock().clock
        // The half second the state sat unused is not added to the guest's clock.
        #expect(restored >= vmState.kvmclockNanoseconds)
        #expect(restored - vmState.kvmclockNanoseconds < 250_000_000, "flags at capture: \(flags)")
    }

    @Test func refusedMSRsAreSkippedNotFatal() throws {
        let machine = try StateVM()
        let bogus: UInt32 = 0x4B56_4DFF  // inside KVM's paravirtual range, never defined
        let values = try machine.vcpu.readableMSRs([0x174, bogus, 0xC000_0102, bogus, 0x175])
        #expect(values.map(\.index) == [0x174, 0xC000_0102, 0x175])
    }

    @Test func restoringOntoAnotherVCPUIdIsRefused() throws {
        let machine = try StateVM()
        var (state, _) = try machine.capture()
        state.id = 1
        #expect(throws: VMStateError("saved state of vCPU 1 cannot be restored onto vCPU 0")) {
            try machine.vcpu.restoreState(state, xsaveSize: machine.system.xsaveSize)
        }
    }

    @Test func wrongSizesAreRefusedBeforeReachingKVM() throws {
        let machine = try StateVM()
        var (state, vmState) = try machine.capture()
        let original = state
        state.registers = Data(count: 3)
        #expect(
            throws: VMStateError(
                "saved vCPU 0 registers is 3 bytes, expected \(MemoryLayout<kvm_regs>.size): the state is corrupt or from an incompatible amber"
            )
        ) {
            try machine.vcpu.restoreState(state, xsaveSize: machine.system.xsaveSize)
        }
        state = original
        state.xsave = Data(count: 2 << 20)
        #expect(throws: VMStateError.self) { try state.validate() }
        state = original
        state.cpuid = Data(count: 41)
        #expect(throws: VMStateError.self) { try state.validate() }
        vmState.irqChips.swapAt(0, 2)
        #expect(throws: VMStateError("saved interrupt controller picMaster says it is chip 2: the state is corrupt")) {
            try machine.vm.restoreState(vmState)
        }
        #expect(try machine.vcpu.registers().rip == (try original.decodedRegisters()).rip)
    }
}
