import AmberKVM
import AmberMachineState
import Foundation
import Testing
@testable import AmberVMM

/// Each part of a machine that has state (`Persistable`) saves what it restores: its state survives
/// JSON (the form `MachineState` encodes it in) and a restore into a new machine, and the machine state
/// is made of exactly these states.
@Suite("Persistable parts", .enabled(if: kvmPresent), .serialized)
struct PersistableTests {
    /// `part`'s state, after checking it survives JSON and a restore onto `fresh` (whose state is then
    /// the same as far as `sameAfterRestore` looks).
    @discardableResult
    func roundTrip<Part: Persistable, Compared: Equatable>(
        _ part: Part, onto fresh: Part,
        sameAfterRestore compared: (Part.State) -> Compared
    ) throws -> Part.State {
        let saved = try part.save()
        let decoded = try JSONDecoder().decode(Part.State.self, from: JSONEncoder().encode(saved))
        #expect(decoded == saved, "\(Part.self): its state changed through JSON")
        try fresh.restore(decoded)
        #expect(compared(try fresh.save()) == compared(saved), "\(Part.self): restored, it saves another state")
        return saved
    }

    @Test func everyPartRoundTripsAndMakesUpTheMachineState() throws {
        let path = MachineWithDisk.scratchDisk(bytes: 1 << 20)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let guest = try TinyGuest()
        try guest.load(RealMode.countForever(at: 0x2000), at: 0x1000)
        let original = try MachineWithDisk(diskPath: path, machine: guest.machine)
        defer { original.device.stop() }
        original.driveToReady()
        guest.machine.serial.receive(Array("typed, not yet read".utf8))
        try guest.machine.start()
        defer { guest.machine.stop(.stopped); _ = guest.machine.waitForExit() }
        try guest.machine.pause()
        let machineState = try MachineState(encoded: try guest.machine.captureState(virtioDevices: [original.attachment]).encoded())

        let fresh = try TinyGuest()
        let freshDisk = try MachineWithDisk(diskPath: path, machine: fresh.machine)
        defer { freshDisk.device.stop() }
        let machine = guest.machine, system = machine.kvm.system
        let msrs = try system.snapshotMSRIndices()
        // A vCPU's TSC and the PIT's counters run on between save and save: compare what stands still.
        let vcpu = try roundTrip(
            PersistedVCPU(vcpu: machine.vcpus[0], msrIndices: msrs, xsaveSize: system.xsaveSize),
            onto: PersistedVCPU(vcpu: fresh.machine.vcpus[0], msrIndices: msrs, xsaveSize: system.xsaveSize),
            sameAfterRestore: { [$0.registers, $0.specialRegisters, $0.lapic.prefix(0x300)] })
        let vm = try roundTrip(machine.kvm, onto: fresh.machine.kvm, sameAfterRestore: \.irqChips)
        let serial = try roundTrip(machine.serial, onto: fresh.machine.serial, sameAfterRestore: { $0 })
        let device = try roundTrip(original.attachment, onto: freshDisk.attachment, sameAfterRestore: { $0 })
        try roundTrip(original.transport, onto: freshDisk.transport, sameAfterRestore: { $0 })
        try roundTrip(original.device, onto: freshDisk.device, sameAfterRestore: { $0 })
        try roundTrip(I8042(reset: {}), onto: I8042(reset: {}), sameAfterRestore: { $0 })
        try roundTrip(ACPIPowerPort { _ in }, onto: ACPIPowerPort { _ in }, sameAfterRestore: { $0 })

        #expect(machineState.vcpus[0].registers == vcpu.registers && machineState.vcpus[0].id == vcpu.id)
        #expect(machineState.vm.irqChips == vm.irqChips)
        #expect(machineState.serial == serial && serial.input == Array("typed, not yet read".utf8))
        #expect(machineState.virtioDevices == [device])
    }
}
