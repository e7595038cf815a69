import AmberControl
import AmberMachineState
import AmberSystem
import AmberTestSupport
import AmberVirtio
import Foundation
import Synchronization
import Testing
@testable import AmberVMM

/// The virtio-net device on real KVM and a real tap: a 64-bit tiny guest kicks the queues through the KVM
/// ioeventfds, the test plays the rest of the driver and the host side of the tap (an AF_PACKET socket in a
/// network namespace of its own).
@Suite("virtio-net device on a tap", .enabled(if: kvmPresent && runsAsRoot && tunPresent), .serialized)
struct NetDeviceTests {
    static let payload = Array("a frame from the tiny guest".utf8)

    @Test func aFrameTheGuestSendsReachesTheTap() throws {
        let guest = try GuestWithNIC()
        defer { guest.stop() }
        let frame = TapInNamespace.frame(from: GuestWithNIC.guestMAC, payload: Self.payload)
        try guest.driver.transmit(frame)
        #expect(guest.network.nextFrame() == frame)
        #expect(guest.driver.waitForUsed(1, 1))
        #expect(eventually(within: 10) { guest.device.counters.framesSent == 1 })
    }

    @Test func aFrameInjectedOnTheTapLandsInTheGuestsBuffers() throws {
        let guest = try GuestWithNIC()
        defer { guest.stop() }
        let buffer = try guest.driver.postReceiveBuffer(length: 2048)
        let frame = TapInNamespace.frame(to: GuestWithNIC.guestMAC, from: [0x02, 0, 0, 0, 0, 1], payload: Self.payload)
        try guest.network.inject(frame)
        #expect(guest.driver.waitForUsed(0, 1))
        #expect(guest.driver.usedElement(0, 0).length == UInt32(12 + frame.count))
        let header = guest.driver.bytes(at: buffer, count: 12)
        #expect(header[10] == 1 && header[11] == 0)  // num_buffers
        #expect(guest.driver.bytes(at: buffer + 12, count: frame.count) == frame)
    }

    @Test func aFrameLongerThanOneBufferSpansSeveralWithNumBuffers() throws {
        let guest = try GuestWithNIC()
        defer { guest.stop() }
        let first = try guest.driver.postReceiveBuffer(length: 1024)
        let second = try guest.driver.postReceiveBuffer(length: 1024)
        let frame = TapInNamespace.frame(
            to: GuestWithNIC.guestMAC, from: [0x02, 0, 0, 0, 0, 1], payload: (0..<1400).map { UInt8(truncatingIfNeeded: $0) })
        try guest.network.inject(frame)
        #expect(guest.driver.waitForUsed(0, 2))
        #expect(guest.driver.usedElement(0, 0).length == 1024)
        #expect(guest.driver.usedElement(0, 1).length == UInt32(12 + frame.count - 1024))
        #expect(guest.driver.bytes(at: first + 10, count: 2) == [2, 0])
        let received = guest.driver.bytes(at: first, count: 1024) + guest.driver.bytes(at: second, count: 12 + frame.count - 1024)
        #expect(Array(received[12...]) == frame)
    }

    @Test func withoutMergeableBuffersAFrameThatDoesNotFitIsDroppedAndCounted() throws {
        let guest = try GuestWithNIC(features: (1 << 32) | (1 << 5) | (1 << 16))  // VERSION_1, MAC, STATUS
        defer { guest.stop() }
        try guest.driver.postReceiveBuffer(length: 512)
        let big = TapInNamespace.frame(to: GuestWithNIC.guestMAC, from: [0x02, 0, 0, 0, 0, 1], payload: [UInt8](repeating: 7, count: 1000))
        let small = TapInNamespace.frame(to: GuestWithNIC.guestMAC, from: [0x02, 0, 0, 0, 0, 1], payload: Self.payload)
        try guest.network.inject(big)
        try guest.network.inject(small)
        #expect(guest.driver.waitForUsed(0, 1))
        #expect(guest.driver.usedElement(0, 0).length == UInt32(12 + small.count))
        #expect(eventually(within: 10) { guest.device.counters.receiveDropped == 1 })
    }

    /// Bad transmit chains the frame rules catch: returned unsent, counted; the device keeps serving.
    @Test func framesThatBreakTheRulesAreRefusedAndNeverReachTheTap() throws {
        let guest = try GuestWithNIC(features: (1 << 32) | (1 << 5) | (1 << 15) | (1 << 16))  // no offloads
        defer { guest.stop() }
        let good = TapInNamespace.frame(from: GuestWithNIC.guestMAC, payload: Self.payload)
        try guest.driver.transmit([], headerBytes: 8)  // a chain shorter than the 12-byte header
        try guest.driver.transmit([])  // a header and no Ethernet frame
        // A frame of 65554 bytes, more than 65550.
        try guest.driver.transmit(TapInNamespace.frame(from: GuestWithNIC.guestMAC, payload: [UInt8](repeating: 9, count: 65_540)))
        try guest.driver.transmit(good, flags: 1)  // NEEDS_CSUM without VIRTIO_NET_F_CSUM
        try guest.driver.transmit(good, gsoType: 1)  // TSO without HOST_TSO4
        try guest.driver.transmit(good)
        #expect(guest.driver.waitForUsed(1, 6))
        #expect(guest.network.nextFrame() == good)
        #expect(guest.network.nextFrame(within: 0.2) == nil)
        // The counters are updated at the end of the worker's batch, just after the used ring.
        #expect(eventually(within: 10) { guest.device.counters.transmitRefused == 5 })
        #expect(!guest.driver.needsReset)
    }

    /// Chains that break the virtio rules stop the device until the driver resets it; no frame leaves.
    @Test(arguments: ["outside RAM", "loop", "oversized indirect table"])
    func malformedChainsNeedAResetAndSendNothing(_ fault: String) throws {
        let guest = try GuestWithNIC()
        defer { guest.stop() }
        let frameAddress = guest.driver.allocate(64)
        try guest.driver.memory.write(
            [UInt8](repeating: 0, count: 12) + TapInNamespace.frame(from: GuestWithNIC.guestMAC, payload: Self.payload), at: frameAddress)
        switch fault {
        case "outside RAM":
            try guest.driver.setDescriptor(1, 0, address: 0xFFFF_0000_0000, length: 64, flags: 0)
        case "loop":
            try guest.driver.setDescriptor(1, 0, address: frameAddress, length: 30, flags: 1, next: 1)
            try guest.driver.setDescriptor(1, 1, address: frameAddress + 30, length: 30, flags: 1, next: 0)
        default:
            let table = guest.driver.allocate(4097 * 16)
            try guest.driver.setDescriptor(1, 0, address: table, length: 4097 * 16, flags: 4)
        }
        try guest.driver.publish(1, head: 0)
        #expect(eventually(within: 10, every: 0.001) { guest.driver.needsReset })
        #expect(guest.device.guestError != nil)
        #expect(guest.network.nextFrame(within: 0.3) == nil)
        // The machine keeps running and a reset brings the device back.
        #expect(guest.running.host.machine.currentState == .running)
        try guest.driver.start()
        let good = TapInNamespace.frame(from: GuestWithNIC.guestMAC, payload: Self.payload)
        try guest.driver.transmit(good)
        #expect(guest.network.nextFrame() == good)
    }

    @Test func aPausedDeviceLeavesFramesInTheTapUntilResumed() throws {
        let guest = try GuestWithNIC()
        defer { guest.stop() }
        for _ in 0..<3 { try guest.driver.postReceiveBuffer(length: 2048) }
        let machine = guest.running.host.machine
        try machine.pause()
        let frame = TapInNamespace.frame(to: GuestWithNIC.guestMAC, from: [0x02, 0, 0, 0, 0, 1], payload: Self.payload)
        for _ in 0..<3 { try guest.network.inject(frame) }
        // Nothing arrives while paused (checked for a while: absence has no event to wait for).
        #expect(!eventually(within: 0.3) { guest.driver.usedIndex(0) != 0 })
        #expect(guest.device.counters.framesReceived == 0)
        try machine.resume()
        #expect(guest.driver.waitForUsed(0, 3))
        #expect(eventually(within: 10) { guest.device.counters.framesReceived == 3 })
    }

    @Test func stateRoundTripKeepsTheMACAndQueuesAndAsksForAnAnnouncement() throws {
        let guest = try GuestWithNIC()
        defer { guest.stop() }
        let frame = TapInNamespace.frame(from: GuestWithNIC.guestMAC, payload: Self.payload)
        try guest.driver.transmit(frame)
        #expect(guest.network.nextFrame() == frame)
        #expect(guest.driver.waitForUsed(1, 1))
        let machine = guest.running.host.machine
        try machine.pause()
        let state = try MachineState(encoded: try machine.captureState(virtioDevices: guest.running.host.virtioDevices).encoded())
        #expect(state.virtioDevices.count == 1)
        #expect(state.virtioDevices[0].network == VirtioNetDeviceState(macAddress: GuestWithNIC.guestMAC, status: 1))
        #expect(state.virtioDevices[0].transport.queues[1].nextAvailable == 1)

        // A new device on a tap of another namespace, with another MAC, over the same (paused) guest memory.
        let other = try TapInNamespace()
        let tap = try TapDevice.attach(name: TapInNamespace.tapName, networkNamespacePath: other.namespace.path)
        let device = try VirtioNetDevice(tap: tap, macAddress: [0x52, 0x54, 0, 0, 0, 0x99])
        defer { device.stop() }
        let interrupts = InterruptCount()
        let transport = VirtioMMIOTransport(
            device: device, memory: machine.memory, interrupt: VirtioInterrupt(signal: { interrupts.add() }))
        let attachment = VirtioDeviceAttachment(
            mmioBase: state.virtioDevices[0].mmioBase, transport: transport, block: nil, network: device)
        try attachment.restore(state.virtioDevices[0])
        #expect(device.macAddress == GuestWithNIC.guestMAC)
        #expect(transport.read(offset: VirtioMMIORegister.configuration, size: 4) == 0x1200_5452)
        #expect(device.status == 3)  // LINK_UP | ANNOUNCE
        #expect(transport.interrupt.status & VirtioInterrupt.configurationChange != 0 && interrupts.count > 0)
        #expect(transport.save().queues == state.virtioDevices[0].transport.queues)

        // The driver acknowledges the announcement on the control queue.
        let driver = NetDriver(transport: transport, memory: machine.memory)
        let command = driver.allocate(2)
        let ack = driver.allocate(1)
        try driver.memory.write([3, 0], at: command)
        try driver.memory.write([0xFF], at: ack)
        try driver.setDescriptor(2, 0, address: command, length: 2, flags: 1, next: 1)
        try driver.setDescriptor(2, 1, address: ack, length: 1, flags: 2)
        try driver.store(UInt16(0), at: NetDriver.availableRing(2) + 4)
        try driver.store(UInt16(1), at: NetDriver.availableRing(2) + 2)
        transport.write(offset: VirtioMMIORegister.queueNotify, size: 4, value: 2)
        #expect(eventually(within: 10, every: 0.001) { device.status == 1 })
        #expect(driver.bytes(at: ack, count: 1) == [0])
        try machine.resume()
    }
}

final class InterruptCount: @unchecked Sendable {
    private let lock = ConditionLock()
    private var value = 0
    func add() { lock.withLock { value += 1 } }
    var count: Int { lock.withLock { value } }
}

/// CPU time (user + system, in clock ticks) of this process's threads named `name`.
func threadCPUTicks(named name: String) -> Int {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    return tasks.reduce(0) { total, task in
        guard let comm = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8),
            comm.trimmingCharacters(in: .whitespacesAndNewlines) == name,
            let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/stat", encoding: .utf8),
            let afterName = stat.range(of: ") ")
        else { return total }
        // Fields after "(comm) ": state is field 3; utime and stime are fields 14 and 15.
        let fields = stat[afterName.upperBound...].split(separator: " ")
        return total + (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)
    }
}

@Suite("virtio-net worker at rest", .enabled(if: kvmPresent && runsAsRoot && tunPresent), .serialized)
struct NetWorkerRestTests {
    /// Frames wait in the tap while the guest has no receive buffers (the guest keeps notifying the queue):
    /// the worker sleeps instead of polling a readable tap in a loop.
    @Test func framesWithoutBuffersDoNotKeepTheWorkerBusy() throws {
        let guest = try GuestWithNIC()
        defer { guest.stop() }
        let frame = TapInNamespace.frame(to: GuestWithNIC.guestMAC, from: [0x02, 0, 0, 0, 0, 1], payload: [1])
        for _ in 0..<5 { try guest.network.inject(frame) }
        let before = threadCPUTicks(named: "virtio-net")
        Thread.sleep(forTimeInterval: 1)
        let used = threadCPUTicks(named: "virtio-net") - before
        #expect(used < 20, "the virtio-net worker used \(used) ticks of CPU in 1 s")
        try guest.driver.postReceiveBuffer(length: 2048)
        #expect(guest.driver.waitForUsed(0, 1))
    }
}

@Suite("virtio-net across a snapshot", .enabled(if: kvmPresent && runsAsRoot && tunPresent), .serialized)
struct NetRestoreTests {
    /// amber-vmm's restore path (MachineBuilder): the NIC comes back at its slot with the snapshot's MAC (not
    /// the new configuration's), its queues where they were, an announcement requested, on the new tap.
    @Test func aRestoredVMContinuesItsQueuesOnANewTapAndAnnouncesItself() throws {
        let original = try GuestWithNIC()
        let first = TapInNamespace.frame(from: GuestWithNIC.guestMAC, payload: Array("before the snapshot".utf8))
        try original.driver.transmit(first)
        #expect(original.network.nextFrame() == first)
        #expect(original.driver.waitForUsed(1, 1))
        let machine = original.running.host.machine
        try machine.pause()
        let state = try machine.captureState(virtioDevices: original.running.host.virtioDevices)
        let snapshot = try Scratch()
        defer { snapshot.remove() }
        try Data(try state.encoded()).write(to: URL(fileURLWithPath: snapshot.path("state")))
        try Data(UnsafeRawBufferPointer(machine.memory.mapping.buffer)).write(to: URL(fileURLWithPath: snapshot.path("memory")))
        let nextBuffer = original.driver.allocate(0)
        original.stop()

        let restored = try GuestWithNIC(
            restore: RestoreSource(snapshotID: "s-1", statePath: snapshot.path("state"), memoryPath: snapshot.path("memory")),
            mac: "52:54:00:00:00:99")
        defer { restored.stop() }
        #expect(restored.device.macAddress == GuestWithNIC.guestMAC)
        // LINK_UP | ANNOUNCE, and a configuration-change interrupt (the tiny guest never acknowledges either).
        #expect(restored.device.status == 3)
        #expect(restored.running.host.virtioDevices[0].transport.interrupt.status & VirtioInterrupt.configurationChange != 0)
        #expect(restored.running.host.virtioDevices[0].transport.save().queues == state.virtioDevices[0].transport.queues)
        restored.driver.continueQueue(1, availableIndex: 1, nextDescriptor: 1, nextBuffer: nextBuffer)
        let second = TapInNamespace.frame(from: GuestWithNIC.guestMAC, payload: Array("after the restore".utf8))
        try restored.driver.transmit(second)
        #expect(restored.network.nextFrame() == second)
        #expect(restored.driver.waitForUsed(1, 2))
    }
}

@Suite("NIC wiring", .enabled(if: kvmPresent))
struct NetWiringTests {
    /// Disks and NICs share the IOAPIC inputs from GSI 5: more devices than inputs is bad input, refused
    /// before any file or tap is opened.
    @Test func moreDevicesThanIOAPICInputsAreRefused() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var configuration = try scratch.configuration(
            entryCode: LongMode.powerOff, disks: (0..<12).map { DiskConfiguration(path: "/nonexistent/\($0)", readOnly: true) })
        configuration.networkInterfaces = (0..<8).map {
            NetworkInterfaceConfiguration(tapName: "tap\($0)", macAddress: "02:00:00:00:00:0\($0 + 1)")
        }
        #expect(
            throws: ConfigurationError("12 disks and 8 NICs are too many: the IOAPIC has inputs for 19 virtio devices")
        ) { try VMMHost(configuration: configuration, consoleOutput: nil) }
    }
}

@Suite("virtio-net against random rings", .enabled(if: kvmPresent && runsAsRoot && tunPresent), .serialized)
struct NetRandomRingTests {
    /// xorshift64*: reproducible rounds.
    /// A device's worker thread may run before its initializer has returned: 2,000 devices made and stopped in a row,
    /// while the other core is kept busy, must never touch the half-made device (amber-vmm died of SIGILL under a
    /// loaded CI machine when the worker's first wait read the not yet assigned `worker`).
    @Test func devicesMadeAndStoppedInARowNeverCrash() throws {
        let tap = try TapInNamespace()
        let device = try tap.namespace.run { try TapDevice.attach(name: TapInNamespace.tapName) }
        let spinning = Atomic(true)
        let spinner = try BackgroundWork(name: "spinner") {
            var count = 0
            while spinning.load(ordering: .relaxed) { count &+= 1 }
            return count
        }
        for _ in 0..<2000 {
            let nic = try VirtioNetDevice(tap: device, macAddress: [0x52, 0x54, 0, 0x12, 0x34, 0x56])
            nic.stop()
        }
        spinning.store(false, ordering: .relaxed)
        _ = try spinner.wait()
    }

    /// Whatever a hostile guest puts in its receive and transmit rings, each round ends with the transmit chain
    /// used or the device asking for a reset, the VM keeps running, and nothing longer than a frame may be
    /// reaches the tap.
    @Test func randomDescriptorsNeverCrashHangOrLeakOversizedFrames() throws {
        let guest = try GuestWithNIC()
        defer { guest.stop() }
        var random = SeededGenerator(seed: 0x2545_F491_4F6C_DD1D)
        let low: UInt64 = NetDriver.buffersBase
        let high: UInt64 = 64 << 20
        var used = 0
        var reset = 0
        for _ in 0..<150 {
            try guest.driver.start()
            for queue in [0, 1] {
                for index in 0..<NetDriver.queueSize {
                    let nearMemory = random.next() % 4 != 0
                    let address = nearMemory ? low + random.next() % (high - low) : random.next()
                    let length = nearMemory ? UInt32(random.next() % 0x12000) : UInt32(truncatingIfNeeded: random.next())
                    try guest.driver.setDescriptor(
                        queue, index, address: address, length: length, flags: UInt16(random.next() % 8), next: UInt16(random.next() % 20))
                }
                try guest.driver.publish(queue, head: UInt16(random.next() % 18))
            }
            try guest.network.inject(TapInNamespace.frame(to: GuestWithNIC.guestMAC, from: [2, 0, 0, 0, 0, 1], payload: [1, 2, 3]))
            #expect(eventually(within: 10, every: 0.001) { guest.driver.usedIndex(1) == 1 || guest.driver.needsReset })
            if guest.driver.usedIndex(1) == 1 { used += 1 } else { reset += 1 }
        }
        #expect(used > 0 && reset > 0, "the rounds exercise both outcomes")
        #expect(guest.running.host.machine.currentState == .running)
        var buffer = [UInt8](repeating: 0, count: 1 << 17)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(guest.network.packets.rawValue, $0.baseAddress, $0.count, 0) }
            guard count >= 0 else { break }
            #expect(count <= VirtioNetDevice.maximumFrameBytes)
        }
    }
}
