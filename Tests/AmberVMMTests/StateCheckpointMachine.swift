import AmberKVM
import AmberSystem
import AmberTestSupport
import CKVM
import Foundation
@testable import AmberVMM

/// What a finished run of the checkpoint program left behind: everything a restore must reproduce.
struct CheckpointOutcome: Equatable {
    var exit: MachineExit
    var serial: String
    var data: [UInt8]
    var ymmUpperHalves: [UInt8]
}

/// Builds, runs, copies and restores machines running `CheckpointProgram`.
enum CheckpointMachine {
    static let memoryBytes: UInt64 = 2 << 20
    static let regions = [GuestRAM.Region(guestAddress: 0, size: memoryBytes, fileOffset: 0)]
    /// The YMM_Hi128 component of the standard-format XSAVE area: upper halves of ymm0-ymm15.
    static let ymmUpperRange = 576..<832
    static let xstateHeaderOffset = 512
    static let ymmUpperPattern: [UInt8] = (0..<256).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 5) }

    static func configuration(_ serial: SerialCapture, vcpus: Int = 1) -> MachineConfiguration {
        MachineConfiguration(
            name: "checkpoint", memoryBytes: memoryBytes, vcpuCount: vcpus,
            serialOutput: { serial.append($0) })
    }

    /// A new machine with the program loaded and vCPU 0 at its first instruction.
    static func make(serial: SerialCapture) throws -> Machine {
        let machine = try Machine(configuration(serial), regions: regions)
        let memory = machine.memory
        try memory.write(CheckpointProgram.main, at: CheckpointProgram.codeAddress)
        try memory.write(CheckpointProgram.timerHandler, at: CheckpointProgram.timerHandlerAddress)
        try memory.write(CheckpointProgram.ipiHandler, at: CheckpointProgram.ipiHandlerAddress)
        for (vector, handler) in [
            (CheckpointProgram.timerVector, CheckpointProgram.timerHandlerAddress),
            (CheckpointProgram.ipiVector, CheckpointProgram.ipiHandlerAddress),
        ] {
            // Real-mode interrupt vector: offset, then segment 0.
            try memory.write([UInt8(handler & 0xFF), UInt8(handler >> 8), 0, 0], at: UInt64(vector * 4))
        }
        try memory.write((0..<128).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }, at: CheckpointProgram.constants)

        let vcpu = machine.vcpus[0]
        var sregs = try vcpu.specialRegisters()
        sregs.cs.base = 0
        sregs.cs.selector = 0
        // "Unreal" DS: a 4 GiB limit lets addr32 accesses reach the local APIC from real mode.
        sregs.ds.limit = 0xFFFF_FFFF
        sregs.ds.g = 1
        sregs.cr4 |= 0x200 | 0x400 | 0x4_0000  // OSFXSR, OSXMMEXCPT, OSXSAVE
        try vcpu.setSpecialRegisters(sregs)
        var regs = kvm_regs()
        regs.rip = CheckpointProgram.codeAddress
        regs.rflags = 2
        regs.rsp = 0x8000
        try vcpu.setRegisters(regs)
        var xcrs = kvm_xcrs()
        xcrs.nr_xcrs = 1
        xcrs.xcrs.0.xcr = 0
        xcrs.xcrs.0.value = 7  // x87, SSE, AVX
        try vcpu.setXCRs(xcrs)
        var xsave = try vcpu.xsave()
        withUnsafeMutableBytes(of: &xsave.region) { area in
            let present = area.load(fromByteOffset: xstateHeaderOffset, as: UInt64.self)
            area.storeBytes(of: present | 0b110, toByteOffset: xstateHeaderOffset, as: UInt64.self)
            UnsafeMutableRawBufferPointer(rebasing: area[ymmUpperRange]).copyBytes(from: ymmUpperPattern)
        }
        try vcpu.setXSave(xsave)
        return machine
    }

    /// A run takes about a second on PVM; a guest still running after this has lost its way.
    static let runLimitSeconds = 60.0

    /// Starts `machine` unless it runs already, waits for the guest to reset itself (or stops it
    /// after `runLimitSeconds`, which its exit then shows), and collects what it left.
    static func finish(_ machine: Machine, serial: SerialCapture) throws -> CheckpointOutcome {
        if machine.currentState == .created { try machine.start() }
        if !eventually(within: runLimitSeconds, every: 0.001, { machine.currentState != .running }) {
            machine.stop(.crashed(reason: "the checkpoint program did not finish within \(runLimitSeconds) s"))
        }
        let exit = machine.waitForExit()
        let range = CheckpointProgram.dataRange
        let data = (range.lowerBound..<range.upperBound).map { machine.memory.read(UInt8.self, at: $0) ?? 0 }
        var xsave = try machine.vcpus[0].xsave()
        let ymm = withUnsafeBytes(of: &xsave.region) { Array($0[ymmUpperRange]) }
        return CheckpointOutcome(exit: exit, serial: serial.text, data: data, ymmUpperHalves: ymm)
    }

    /// An uninterrupted run from start to end.
    static func uninterruptedRun() throws -> CheckpointOutcome {
        let serial = SerialCapture()
        return try finish(try make(serial: serial), serial: serial)
    }

    /// What the snapshot manager does with guest memory: copies the memory file while paused.
    static func copyOfMemory(_ machine: Machine) throws -> FileDescriptor {
        let copy = try MemFD.create(name: "snapshot-memory", size: machine.memory.size)
        try copy.write(UnsafeRawBufferPointer(machine.memory.mapping.buffer), at: 0)
        return copy
    }

    static func isPending(vector: Int, in lapic: Data) -> Bool {
        // IRR: eight 32-bit registers from 0x200, 16 bytes apart.
        let register = lapic.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0x200 + (vector / 32) * 0x10, as: UInt32.self) }
        return register & (1 << UInt32(vector % 32)) != 0
    }

    static func lapicRegister(_ offset: Int, in lapic: Data) -> UInt32 {
        lapic.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: UInt32.self) }
    }
}
