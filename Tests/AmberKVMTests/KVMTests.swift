import AmberMachineState
import AmberSystem
import CKVM
import Foundation
import Testing
@testable import AmberKVM

private let kvmPresent = FileManager.default.fileExists(atPath: "/dev/kvm")

/// A VM with 64 KiB of RAM at address 0 and one vCPU in real mode at `code`'s first byte (0x1000).
private struct RealModeVM {
    let vm: KVMVirtualMachine
    let vcpu: KVMVCPU
    let memory: MappedRegion

    init(code: [UInt8], irqchip: Bool = false) throws {
        let system = try KVMSystem()
        vm = try system.createVM()
        try vm.setTSSAddress(0xFFFB_D000)
        try vm.setIdentityMapAddress(0xFFFB_C000)
        if irqchip { try vm.createIRQChip() }
        memory = try MappedRegion(size: 0x10000)
        memory.buffer.copyBytes(from: [UInt8](repeating: 0xF4, count: 0x10000))
        UnsafeMutableRawBufferPointer(rebasing: memory.buffer[0x1000...]).copyBytes(from: code)
        try vm.setMemoryRegion(slot: 0, guestAddress: 0, size: 0x10000, hostAddress: memory.base)
        vcpu = try vm.createVCPU(id: 0)
        var sregs = try vcpu.specialRegisters()
        sregs.cs.base = 0
        sregs.cs.selector = 0
        try vcpu.setSpecialRegisters(sregs)
        var regs = kvm_regs()
        regs.rip = 0x1000
        regs.rflags = 2
        try vcpu.setRegisters(regs)
    }
}

@Suite("KVM system, VM and vCPU wrappers", .enabled(if: kvmPresent))
struct KVMTests {
    @Test func systemReportsWhatTheHostSupports() throws {
        let system = try KVMSystem()
        #expect(system.checkExtension(KVM_CAP_IRQCHIP) != 0)
        #expect(system.checkExtension(KVM_CAP_IMMEDIATE_EXIT) != 0)
        #expect(try system.vcpuMmapSize() >= MemoryLayout<kvm_run>.size)
        let cpuid = try system.supportedCPUID()
        #expect(cpuid.contains { $0.function == 0 && $0.eax >= 1 })
        #expect(try system.msrIndexList().contains(0x10))
    }

    @Test func missingDeviceIsAClearError() {
        #expect(throws: KVMError.unavailable(path: "/nonexistent/kvm", errno: ENOENT)) { try KVMSystem(path: "/nonexistent/kvm") }
    }

    @Test func kvmRunLayoutMatchesTheHeader() {
        #expect(MemoryLayout<kvm_run>.size == 2352)
        #expect(MemoryLayout<kvm_run>.offset(of: \kvm_run.immediate_exit) == KVMVCPU.immediateExitOffset)
    }

    @Test func portIOExitsCarryPortDirectionAndData() throws {
        // mov al,0x42; out 0x10,al; in al,0x11; out 0x12,al; hlt
        let machine = try RealModeVM(code: [0xB0, 0x42, 0xE6, 0x10, 0xE4, 0x11, 0xE6, 0x12, 0xF4])
        guard case .io(let out) = try machine.vcpu.run() else { Issue.record("expected an OUT exit"); return }
        #expect(out.port == 0x10 && out.isWrite && out.size == 1 && out.count == 1)
        #expect(out.data.load(as: UInt8.self) == 0x42)
        guard case .io(let input) = try machine.vcpu.run() else { Issue.record("expected an IN exit"); return }
        #expect(input.port == 0x11 && !input.isWrite)
        input.data.storeBytes(of: 0x99, as: UInt8.self)
        guard case .io(let echo) = try machine.vcpu.run() else { Issue.record("expected a second OUT"); return }
        #expect(echo.port == 0x12 && echo.data.load(as: UInt8.self) == 0x99)
        guard case .halt = try machine.vcpu.run() else { Issue.record("expected HLT"); return }
    }

    @Test func mmioExitsCarryAddressAndValue() throws {
        // mov bx,0x2000; mov es,bx; mov word es:[0x10],0x1234; hlt
        let machine = try RealModeVM(code: [0xBB, 0x00, 0x20, 0x8E, 0xC3, 0x26, 0xC7, 0x06, 0x10, 0x00, 0x34, 0x12, 0xF4])
        guard case .mmio(let access) = try machine.vcpu.run() else { Issue.record("expected an MMIO exit"); return }
        #expect(access.address == 0x20010 && access.isWrite && access.length == 2)
        #expect(access.data.load(as: UInt16.self) == 0x1234)
    }

    @Test func immediateExitReturnsInterruptedWithoutRunning() throws {
        let machine = try RealModeVM(code: [0xE6, 0x10, 0xF4])
        machine.vcpu.immediateExit = true
        guard case .interrupted = try machine.vcpu.run() else { Issue.record("expected EINTR"); return }
        #expect(try machine.vcpu.registers().rip == 0x1000)
        machine.vcpu.immediateExit = false
        guard case .io = try machine.vcpu.run() else { Issue.record("expected the OUT after clearing"); return }
    }

    @Test func vcpuStateRoundTrips() throws {
        let machine = try RealModeVM(code: [0xF4], irqchip: true)
        let vcpu = machine.vcpu
        var regs = try vcpu.registers()
        regs.rax = 0xDEAD_BEEF
        try vcpu.setRegisters(regs)
        #expect(try vcpu.registers().rax == 0xDEAD_BEEF)
        try vcpu.setMSRs([MSREntry(index: 0x174, value: 0x10), MSREntry(index: 0x2FF, value: 0xC06)])
        #expect(try vcpu.msrs([0x174, 0x2FF]) == [MSREntry(index: 0x174, value: 0x10), MSREntry(index: 0x2FF, value: 0xC06)])
        let cpuid = try machine.vm.system.supportedCPUID()
        try vcpu.setCPUID(cpuid)
        #expect(try vcpu.cpuid().count == cpuid.count)
        let lapic = try vcpu.lapic()
        try vcpu.setLAPIC(lapic)
        try vcpu.setFPU(try vcpu.fpu())
        try vcpu.setXSave(try vcpu.xsave())
        try vcpu.setXCRs(try vcpu.xcrs())
        try vcpu.setDebugRegisters(try vcpu.debugRegisters())
        try vcpu.setVCPUEvents(try vcpu.vcpuEvents())
        try vcpu.setMPState(try vcpu.mpState())
        #expect(try vcpu.tscKHz() > 0)
    }

    @Test func vmStateRoundTrips() throws {
        let system = try KVMSystem()
        let vm = try system.createVM()
        try vm.setTSSAddress(0xFFFB_D000)
        try vm.setIdentityMapAddress(0xFFFB_C000)
        try vm.createIRQChip()
        try vm.createPIT2()
        for chip in KVMVirtualMachine.IRQChip.allCases {
            try vm.setIRQChip(try vm.irqChip(chip))
        }
        try vm.setPIT(try vm.pit())
        try vm.setClock(try vm.clock())
        try vm.pulseIRQLine(4)
        let event = try EventFD()
        try vm.registerIRQFD(event, gsi: 5)
        try vm.unregisterIRQFD(event, gsi: 5)
        try vm.registerIOEventFD(event, address: 0xD000_0050, length: 4, dataMatch: 0)
        try vm.unregisterIOEventFD(event, address: 0xD000_0050, length: 4, dataMatch: 0)
    }

    @Test func refusedMSRIsNamed() throws {
        let machine = try RealModeVM(code: [0xF4])
        #expect(throws: KVMError.msrRefused(msr: 0xDEAD_0000, failedIndex: 1)) {
            try machine.vcpu.setMSRs([MSREntry(index: 0x174, value: 0), MSREntry(index: 0xDEAD_0000, value: 1)])
        }
    }
}
