import AmberMachineState
import AmberSystem
import AmberVirtio
import Foundation
import Testing
@testable import AmberVMM

/// A machine with one virtio-mmio block device over `diskPath`, wired as amber-vmm wires its disks.
struct MachineWithDisk {
    static let base: UInt64 = 0xD000_0000
    static let gsi: UInt32 = 5
    let machine: Machine
    let device: VirtioBlockDevice
    let transport: VirtioMMIOTransport

    init(diskPath: String, machine: Machine) throws {
        self.machine = machine
        device = try VirtioBlockDevice(path: diskPath, readOnly: false)
        let irqfd = try EventFD()
        try machine.kvm.registerIRQFD(irqfd, gsi: Self.gsi)
        transport = VirtioMMIOTransport(device: device, memory: machine.memory, interrupt: VirtioInterrupt(irqfd: irqfd))
        try machine.kvm.registerIOEventFD(device.notifyEvent, address: Self.base + VirtioMMIORegister.queueNotify, length: 4, dataMatch: 0)
        try machine.mmio.register(transport, base: Self.base, length: VirtioMMIORegister.windowSize)
        machine.addPausableDevice(device)
    }

    /// A zero-filled scratch disk of `bytes` under the temporary directory; the caller removes it.
    static func scratchDisk(bytes: Int) -> String {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("amber-state-\(UUID().uuidString).img").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data(count: bytes)))
        return path
    }

    var attachment: VirtioDeviceAttachment { VirtioDeviceAttachment(mmioBase: Self.base, transport: transport, block: device) }

    /// What a guest driver does through the register window: features, one queue, DRIVER_OK.
    func driveToReady() {
        func write(_ register: UInt64, _ value: UInt32) {
            withUnsafeBytes(of: value.littleEndian) { transport.write(offset: register, from: $0) }
        }
        write(VirtioMMIORegister.status, VirtioStatus.acknowledge | VirtioStatus.driver)
        write(VirtioMMIORegister.driverFeaturesSelect, 1)
        write(VirtioMMIORegister.driverFeatures, 1)  // VERSION_1
        write(VirtioMMIORegister.status, VirtioStatus.acknowledge | VirtioStatus.driver | VirtioStatus.featuresOK)
        write(VirtioMMIORegister.queueSelect, 0)
        write(VirtioMMIORegister.queueSize, 16)
        write(VirtioMMIORegister.queueDescriptorLow, 0x10_0000)
        write(VirtioMMIORegister.queueAvailableLow, 0x10_1000)
        write(VirtioMMIORegister.queueUsedLow, 0x10_2000)
        write(VirtioMMIORegister.queueReady, 1)
        write(VirtioMMIORegister.status, VirtioStatus.acknowledge | VirtioStatus.driver | VirtioStatus.featuresOK | VirtioStatus.driverOK)
    }
}

@Suite("Virtio devices in a machine state", .enabled(if: kvmPresent), .serialized)
struct StateVirtioTests {
    @Test func aDrivenBlockDeviceComesBackWithItsQueueAndRegisters() throws {
        let path = MachineWithDisk.scratchDisk(bytes: 1 << 20)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let guest = try TinyGuest()
        try guest.load(RealMode.countForever(at: 0x2000), at: 0x1000)
        let original = try MachineWithDisk(diskPath: path, machine: guest.machine)
        defer { original.device.stop() }
        original.driveToReady()
        try guest.machine.start()
        try guest.machine.pause()
        let state = try MachineState(encoded: try guest.machine.captureState(virtioDevices: [original.attachment]).encoded())
        let memory = try CheckpointMachine.copyOfMemory(guest.machine)
        guest.machine.stop(.stopped)
        _ = guest.machine.waitForExit()
        #expect(state.virtioDevices.count == 1)
        #expect(state.virtioDevices[0].transport.status & VirtioStatus.driverOK != 0)
        #expect(state.virtioDevices[0].block?.capacitySectors == 2048)

        let restoredMachine = try Machine.restore(
            state: state, memory: memory, sharing: .shared,
            configuration: MachineConfiguration(
                name: "tiny", memoryBytes: TinyGuest.memoryBytes,
                vcpuCount: 1, serialOutput: { _ in }))
        let restored = try MachineWithDisk(diskPath: path, machine: restoredMachine)
        defer { restored.device.stop() }
        try restoredMachine.restoreVirtioDevices(state.virtioDevices, onto: [restored.attachment])
        #expect(restored.transport.save() == state.virtioDevices[0].transport)
    }

    @Test func devicesThatDoNotMatchTheSnapshotAreRefused() throws {
        let path = MachineWithDisk.scratchDisk(bytes: 1 << 20)
        let otherPath = MachineWithDisk.scratchDisk(bytes: 2 << 20)
        defer { try? FileManager.default.removeItem(atPath: path); try? FileManager.default.removeItem(atPath: otherPath) }
        let guest = try TinyGuest()
        try guest.load(RealMode.countForever(at: 0x2000), at: 0x1000)
        let original = try MachineWithDisk(diskPath: path, machine: guest.machine)
        defer { original.device.stop() }
        try guest.machine.start()
        try guest.machine.pause()
        let saved = try guest.machine.captureState(virtioDevices: [original.attachment]).virtioDevices
        guest.machine.stop(.stopped)
        _ = guest.machine.waitForExit()

        let other = try MachineWithDisk(diskPath: otherPath, machine: try TinyGuest().machine)
        defer { other.device.stop() }
        #expect(throws: MachineStateError("the snapshot has 1 virtio devices but 0 are attached: attach the snapshot's devices")) {
            try other.machine.restoreVirtioDevices(saved, onto: [])
        }
        let moved = VirtioDeviceAttachment(mmioBase: 0xD000_1000, transport: other.transport, block: other.device)
        #expect(
            throws: MachineStateError(
                "the snapshot's virtio device at 0xd0000000 meets a device at 0xd0001000: attach devices in the snapshot's order")
        ) {
            try other.machine.restoreVirtioDevices(saved, onto: [moved])
        }
        #expect(throws: VirtioError.self) { try other.machine.restoreVirtioDevices(saved, onto: [other.attachment]) }
    }
}
