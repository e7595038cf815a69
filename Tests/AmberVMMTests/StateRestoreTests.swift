import AmberKVM
import AmberMachineState
import AmberSystem
import AmberTestSupport
import CKVM
import Foundation
import Testing
@testable import AmberVMM

@Suite("Capturing a paused machine and restoring it into a new one, on /dev/kvm", .enabled(if: kvmPresent), .serialized)
struct StateRestoreTests {
    @Test func theCheckpointProgramIsDeterministic() throws {
        let first = try CheckpointMachine.uninterruptedRun()
        let second = try CheckpointMachine.uninterruptedRun()
        #expect(first.exit == .rebooted)
        #expect(first == second)
        #expect(first.serial.count == Int(CheckpointProgram.steps) / 64 + 1)
        #expect(first.serial.hasSuffix("!"))
        #expect(first.ymmUpperHalves == CheckpointMachine.ymmUpperPattern)
        let ticks = first.data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 0, as: UInt32.self) }
        let ipiStep = first.data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self) }
        #expect(ticks == CheckpointProgram.tickLimit)
        #expect(ipiStep == CheckpointProgram.interruptsBackOnAtStep)
    }

    @Test func aRunPausedMidComputationAndRestoredEndsLikeAnUninterruptedOne() throws {
        let reference = try CheckpointMachine.uninterruptedRun()
        let serial = SerialCapture()
        let machine = try CheckpointMachine.make(serial: serial)
        try machine.start()
        #expect(serial.waitFor("e"))
        try machine.pause()
        let state = try machine.captureState()
        let memory = try CheckpointMachine.copyOfMemory(machine)
        let printedBeforeCapture = serial.text
        machine.stop(.stopped)
        _ = machine.waitForExit()
        let regs = try state.vcpus[0].decodedRegisters()
        #expect((1..<UInt64(CheckpointProgram.steps)).contains(regs.rcx & 0xFFFF_FFFF), "captured mid-computation")

        let restoredSerial = SerialCapture()
        let restored = try Machine.restore(
            state: try MachineState(encoded: try state.encoded()), memory: memory,
            sharing: .shared, configuration: CheckpointMachine.configuration(restoredSerial))
        let outcome = try CheckpointMachine.finish(restored, serial: restoredSerial)
        #expect(outcome.exit == .rebooted)
        #expect(outcome.data == reference.data)
        #expect(outcome.ymmUpperHalves == reference.ymmUpperHalves)
        #expect(printedBeforeCapture + outcome.serial == reference.serial)
    }

    @Test func aPendingInterruptAndARunningTimerSurviveRestoringTwiceFromOneCapture() throws {
        let reference = try CheckpointMachine.uninterruptedRun()
        let serial = SerialCapture()
        let machine = try CheckpointMachine.make(serial: serial)
        try machine.start()
        // Phase 1: the guest has sent itself an IPI with interrupts off and computes on for 1024 steps.
        #expect(eventually(within: 20, every: 0.001) { machine.memory.read(UInt32.self, at: CheckpointProgram.phase) == 1 })
        try machine.pause()
        let state = try machine.captureState()
        let memory = try CheckpointMachine.copyOfMemory(machine)
        let printedBeforeCapture = serial.text
        machine.stop(.stopped)
        _ = machine.waitForExit()

        let lapic = state.vcpus[0].lapic
        #expect(CheckpointMachine.isPending(vector: CheckpointProgram.ipiVector, in: lapic), "the self-IPI waits in the IRR")
        #expect(CheckpointMachine.lapicRegister(0x320, in: lapic) == 0x20040, "timer LVT: periodic, unmasked, vector 0x40")
        #expect(CheckpointMachine.lapicRegister(0x380, in: lapic) == 1_000_000, "timer initial count")
        #expect(try state.vcpus[0].decodedRegisters().rflags & 0x200 == 0, "captured with interrupts off")

        // Both restores map the one memory file privately, as clones of one snapshot would.
        var outcomes: [CheckpointOutcome] = []
        for _ in 0..<2 {
            let restoredSerial = SerialCapture()
            let restored = try Machine.restore(
                state: state, memory: memory, sharing: .privateCopyOnWrite,
                configuration: CheckpointMachine.configuration(restoredSerial))
            outcomes.append(try CheckpointMachine.finish(restored, serial: restoredSerial))
        }
        #expect(outcomes[0] == outcomes[1])
        #expect(outcomes[0].data == reference.data)
        #expect(outcomes[0].ymmUpperHalves == reference.ymmUpperHalves)
        #expect(printedBeforeCapture + outcomes[0].serial == reference.serial)
    }

    @Test func everyVCPUContinuesFromItsOwnState() throws {
        let guest = try TinyGuest(vcpus: 2)
        try guest.load(RealMode.countForever(at: 0x2000), at: 0x1000, vcpu: 0)
        try guest.load(RealMode.countForever(at: 0x2004), at: 0x1100, vcpu: 1)
        try guest.machine.start()
        #expect(eventually(within: 20, every: 0.001) { guest.counter(at: 0x2000) > 100 && guest.counter(at: 0x2004) > 100 })
        try guest.machine.pause()
        let state = try guest.machine.captureState()
        let memory = try CheckpointMachine.copyOfMemory(guest.machine)
        let counters = (guest.counter(at: 0x2000), guest.counter(at: 0x2004))
        guest.machine.stop(.stopped)
        _ = guest.machine.waitForExit()

        let restored = try Machine.restore(
            state: state, memory: memory, sharing: .shared,
            configuration: MachineConfiguration(
                name: "tiny", memoryBytes: TinyGuest.memoryBytes,
                vcpuCount: 2, serialOutput: { _ in }))
        for (vcpu, saved) in zip(restored.vcpus, state.vcpus) {
            #expect(withUnsafeBytes(of: try vcpu.registers()) { Data($0) } == saved.registers)
            #expect(try vcpu.mpState() == saved.mpState)
        }
        try restored.start()
        defer { restored.stop(.stopped); _ = restored.waitForExit() }
        #expect(
            eventually(within: 20, every: 0.001) {
                (restored.memory.read(UInt32.self, at: 0x2000) ?? 0) > counters.0 + 50
                    && (restored.memory.read(UInt32.self, at: 0x2004) ?? 0) > counters.1 + 50
            })
    }

    @Test func captureRequiresAPausedMachine() throws {
        let guest = try TinyGuest()
        try guest.load(RealMode.countForever(at: 0x2000), at: 0x1000)
        #expect(throws: MachineError("VM tiny is created, not paused: pause it before capturing its state")) {
            try guest.machine.captureState()
        }
        try guest.machine.start()
        defer { guest.machine.stop(.stopped); _ = guest.machine.waitForExit() }
        #expect(throws: MachineError("VM tiny is running, not paused: pause it before capturing its state")) {
            try guest.machine.captureState()
        }
    }

    @Test func restoreRefusesAMachineThatDoesNotFitTheState() throws {
        let guest = try TinyGuest()
        try guest.load(RealMode.countForever(at: 0x2000), at: 0x1000)
        try guest.machine.start()
        try guest.machine.pause()
        let state = try guest.machine.captureState()
        guest.machine.stop(.stopped)
        _ = guest.machine.waitForExit()
        let memory = try CheckpointMachine.copyOfMemory(guest.machine)
        func configuration(vcpus: Int, memoryBytes: UInt64) -> MachineConfiguration {
            MachineConfiguration(name: "tiny", memoryBytes: memoryBytes, vcpuCount: vcpus, serialOutput: { _ in })
        }
        #expect(
            throws: MachineStateError(
                "the snapshot has 1 vCPUs but the machine to restore was configured with 2: restore with the snapshot's vCPU count")
        ) {
            try Machine.restore(
                state: state, memory: memory, sharing: .shared, configuration: configuration(vcpus: 2, memoryBytes: TinyGuest.memoryBytes))
        }
        #expect(
            throws: MachineStateError(
                "the snapshot has 2097152 bytes of memory but the machine to restore was configured with 4194304: restore with the snapshot's memory size"
            )
        ) {
            try Machine.restore(
                state: state, memory: memory, sharing: .shared,
                configuration: configuration(vcpus: 1, memoryBytes: 2 * TinyGuest.memoryBytes))
        }
        let tooSmall = try MemFD.create(name: "short", size: 4096)
        #expect(
            throws: MachineError(
                "the memory file holds 4096 bytes but the guest's RAM is 2097152 bytes: give it the snapshot's whole memory")
        ) {
            try Machine.restore(
                state: state, memory: tooSmall, sharing: .shared, configuration: configuration(vcpus: 1, memoryBytes: TinyGuest.memoryBytes)
            )
        }
    }
}
