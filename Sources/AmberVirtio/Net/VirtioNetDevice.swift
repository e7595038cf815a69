import AmberMachineState
import AmberSystem
import Glibc
import Synchronization

/// A virtio network device (virtio 1.x, section 5.1) over a tap device: receive queue 0, transmit queue 1,
/// control queue 2. Frames cross with their 12-byte virtio-net header as the guest and the tap both speak it,
/// so checksum and segmentation offloads pass through untouched (the tap is told which ones the guest takes).
///
/// One worker thread (`virtio-net`) polls the tap and the three queue eventfds (KVM ioeventfds at base + 0x50
/// with datamatch = queue index); it alternates between queues in bounded batches. Guest errors (chains outside
/// RAM, loops, chains too long, receive buffers too small for the header) stop the device until the driver
/// resets it (DEVICE_NEEDS_RESET, as the block device does); a transmit chain that breaks the frame rules (a
/// header shorter than 12 bytes, a frame over 65550 bytes, offloads not negotiated) is returned unsent and
/// counted. Call `stop()` before dropping the device.
/// Unchecked: the queues, interrupt and features change only while the worker is idle
/// (`DeviceWorker.whileIdle`), which orders them with the worker's reads; the configuration space is under
/// `configuration`, a Mutex; the counters are under `statistics`.
public final class VirtioNetDevice: VirtioDevice, @unchecked Sendable {
    public static let queueSizes: [UInt16] = [256, 256, 64]
    public static let receiveQueue = 0
    public static let transmitQueue = 1
    public static let controlQueue = 2
    /// The largest frame behind the header: 64 KiB of segmentation payload plus Ethernet and VLAN headers.
    public static let maximumFrameBytes = 65550
    static let ethernetHeaderBytes = 14
    /// Chains served per queue per wake-up, so that neither direction starves the other.
    static let batchLimit = 64
    /// writev's IOV_MAX: a transmit chain in more pieces is refused (Linux sends at most ~20).
    static let maximumTransmitPieces = 1024

    public let deviceID: UInt32 = 1
    public var queueMaximumSizes: [UInt16] { Self.queueSizes }
    public var deviceFeatures: UInt64 { VirtioNetFeature.offered }

    public let tap: TapDevice
    /// One per queue (receive, transmit, control): register each as a KVM ioeventfd at base + 0x50 with
    /// datamatch = its index.
    public let queueNotifyEvents: [EventFD]

    /// What the guest reads from the configuration space: mac[6], status (u16).
    struct Configuration {
        var macAddress: [UInt8]
        var status: UInt16
    }

    /// What the device did, for logs and tests.
    public struct Statistics: Equatable, Sendable {
        public var framesSent = 0
        public var framesReceived = 0
        /// Transmit chains returned unsent: header or frame size, or offloads the guest did not negotiate.
        public var transmitRefused = 0
        /// Frames the tap did not take (down, or an error).
        public var transmitErrors = 0
        /// Received frames that could not be delivered: too long for the guest's buffers, or offloads the
        /// guest did not negotiate.
        public var receiveDropped = 0
    }

    let configuration: Mutex<Configuration>
    let statistics = Mutex(Statistics())
    /// The worker's wake-up (`worker.notifyEvent`), kept apart: the worker thread runs `waitForWork` as soon as
    /// it starts, which may be before `worker` is assigned (seen as a crash of amber-vmm under load).
    let wakeEvent: EventFD
    var worker: DeviceWorker!
    // Changed only while the worker is idle (DeviceWorker.whileIdle), read by the worker.
    var receive: SplitVirtqueue?
    var transmit: SplitVirtqueue?
    var control: SplitVirtqueue?
    var interrupt: VirtioInterrupt?
    var features: UInt64 = 0
    var lastError: VirtioError?
    var wantedOffloads: TapDevice.Offloads = []
    // The worker's own.
    var appliedOffloads: TapDevice.Offloads?
    /// A frame read from the tap that waits for receive buffers: its length in `receiveBuffer`.
    var pendingFrameLength: Int?
    let receiveBuffer: UnsafeMutableRawBufferPointer
    /// False while the guest has no receive buffers for the waiting frame (or the device is not running):
    /// the worker then leaves the tap alone (frames wait in its queue) until the receive queue is notified.
    let pollsTap = Atomic(false)

    /// Serves `tap` with `macAddress` (6 bytes) in the configuration space.
    public init(tap: TapDevice, macAddress: [UInt8]) throws {
        guard macAddress.count == VirtioNetDeviceState.macAddressLength else {
            throw VirtioError("a MAC address has 6 bytes, not \(macAddress.count): give the NIC a well-formed MAC")
        }
        self.tap = tap
        configuration = Mutex(Configuration(macAddress: macAddress, status: VirtioNetStatus.linkUp))
        queueNotifyEvents = try Self.queueSizes.map { _ in try EventFD(nonBlocking: true) }
        receiveBuffer = .allocate(byteCount: VirtioNetHeader.size + Self.maximumFrameBytes, alignment: 16)
        wakeEvent = try EventFD(nonBlocking: true)
        worker = try DeviceWorker(
            name: "virtio-net", notifyEvent: wakeEvent,
            waitForWork: { [weak self] paused in self?.waitForWork(paused: paused) ?? false },
            work: { [weak self] in self?.serve() })
    }

    deinit {
        worker.stop()
        receiveBuffer.deallocate()
    }

    public var macAddress: [UInt8] { configuration.withLock { $0.macAddress } }
    public var status: UInt16 { configuration.withLock { $0.status } }
    public var counters: Statistics { statistics.withLock { $0 } }

    /// Why the device stopped serving its queues (the guest broke the virtio rules), until the next reset.
    public var guestError: VirtioError? {
        worker.whileIdle { lastError }
    }

    /// Has the device's worker thread confine itself (see `DeviceWorker.confine`) before it serves more.
    public func confineWorker(_ install: @escaping () throws -> Void, failed: @escaping (Error) -> Void) {
        worker.confine(install, failed: failed)
    }

    /// Ends the worker thread; the device serves nothing afterwards.
    public func stop() {
        worker.stop()
    }

    public func readConfiguration(offset: Int, size: Int) -> UInt64 {
        let bytes = configuration.withLock { $0.macAddress + [UInt8(truncatingIfNeeded: $0.status), UInt8($0.status >> 8)] }
        var value: UInt64 = 0
        for index in 0..<size where offset + index < bytes.count {
            value |= UInt64(bytes[offset + index]) << (8 * UInt64(index))
        }
        return value
    }

    /// The MAC is read-only without VIRTIO_NET_F_CTRL_MAC_ADDR's legacy path (not offered): writes are ignored.
    public func writeConfiguration(offset: Int, size: Int, value: UInt64) {}

    public func activate(queues: [SplitVirtqueue?], negotiatedFeatures: UInt64, interrupt: VirtioInterrupt) {
        let usable = VirtioNetFeature.usable(negotiatedFeatures)
        worker.whileIdle {
            receive = queues.count > Self.receiveQueue ? queues[Self.receiveQueue] : nil
            transmit = queues.count > Self.transmitQueue ? queues[Self.transmitQueue] : nil
            control = queues.count > Self.controlQueue && usable & VirtioNetFeature.controlQueue != 0 ? queues[Self.controlQueue] : nil
            self.interrupt = interrupt
            features = usable
            lastError = nil
            pendingFrameLength = nil
            wantedOffloads = Self.offloads(for: usable)
        }
        pollsTap.store(true, ordering: .releasing)
        worker.wake()
    }

    public func reset() {
        pollsTap.store(false, ordering: .releasing)
        worker.whileIdle {
            receive = nil
            transmit = nil
            control = nil
            interrupt = nil
            features = 0
            lastError = nil
            pendingFrameLength = nil
        }
        configuration.withLock { $0.status &= ~VirtioNetStatus.announce }
    }

    public func notify(queue: UInt32) {
        guard Int(queue) < queueNotifyEvents.count else { return }
        _ = try? queueNotifyEvents[Int(queue)].signal()
    }

    public func pause() {
        worker.pause()
    }

    public func resume() {
        worker.resume()
    }

    /// The tap offloads that match what the guest receives: checksums to complete and TSO of the kinds it took.
    static func offloads(for features: UInt64) -> TapDevice.Offloads {
        var offloads: TapDevice.Offloads = []
        if features & VirtioNetFeature.guestChecksum != 0 { offloads.insert(.checksum) }
        if features & VirtioNetFeature.guestTSO4 != 0 { offloads.insert(.tcpSegmentation4) }
        if features & VirtioNetFeature.guestTSO6 != 0 { offloads.insert(.tcpSegmentation6) }
        if features & VirtioNetFeature.guestECN != 0 { offloads.insert(.tcpSegmentationECN) }
        return offloads
    }

    /// The worker's sleep: the wake eventfd always; unless paused, the queues' eventfds and (while receive
    /// buffers may be waiting) the tap. Eventfds found readable are consumed; a receive notification lets the
    /// worker look at the tap again.
    private func waitForWork(paused: Bool) -> Bool {
        var descriptors = [pollfd(fd: wakeEvent.descriptor.rawValue, events: Int16(POLLIN), revents: 0)]
        if !paused {
            descriptors += queueNotifyEvents.map { pollfd(fd: $0.descriptor.rawValue, events: Int16(POLLIN), revents: 0) }
            if pollsTap.load(ordering: .acquiring) {
                descriptors.append(pollfd(fd: tap.descriptor.rawValue, events: Int16(POLLIN), revents: 0))
            }
        }
        let ready = descriptors.withUnsafeMutableBufferPointer { poll($0.baseAddress, nfds_t($0.count), -1) }
        if ready < 0 { return errno == EINTR }
        if descriptors[0].revents != 0 { _ = try? wakeEvent.wait() }
        for (index, event) in queueNotifyEvents.enumerated() where descriptors.count > index + 1 && descriptors[index + 1].revents != 0 {
            _ = try? event.wait()
            if index == Self.receiveQueue { pollsTap.store(true, ordering: .releasing) }
        }
        return true
    }

    /// Runs on the worker: control, transmit, then receive, each a bounded batch; comes back at once when a
    /// batch was cut short. Interrupts once per wake-up if the driver wants them.
    private func serve() {
        // While nothing takes frames the tap is left alone, rather than waking the worker again and again.
        guard let interrupt, lastError == nil else {
            pollsTap.store(false, ordering: .releasing)
            return
        }
        if receive == nil { pollsTap.store(false, ordering: .releasing) }
        if appliedOffloads != wantedOffloads {
            // The offloads the guest negotiated: a tap that cannot take them keeps plain frames coming, which
            // every guest accepts.
            try? tap.setOffloads(wantedOffloads)
            appliedOffloads = wantedOffloads
        }
        // The queues that returned chains: an interrupt goes out if one of them wants it.
        var usedQueues: [SplitVirtqueue] = []
        var more = false
        do {
            if let control, try serveControl(control) { usedQueues.append(control) }
            if let transmit {
                let (sent, cut) = try serveTransmit(transmit)
                if sent { usedQueues.append(transmit) }
                more = more || cut
            }
            if let receive {
                let (delivered, cut) = try serveReceive(receive)
                if delivered { usedQueues.append(receive) }
                more = more || cut
            }
        } catch {
            lastError = error as? VirtioError ?? VirtioError("\(error)")
            pollsTap.store(false, ordering: .releasing)
            interrupt.markNeedsReset()
        }
        if usedQueues.contains(where: \.driverWantsInterrupt) {
            interrupt.raise(VirtioInterrupt.usedBuffer)
        }
        if more, !worker.pauseRequested { worker.wake() }
    }
}

extension VirtioNetDevice {
    public typealias State = VirtioNetDeviceState

    public func save() -> State {
        configuration.withLock { State(macAddress: $0.macAddress, status: $0.status) }
    }

    /// Takes the saved MAC address and status: the configuration space shows the saved MAC (the restored
    /// guest's driver uses it), whatever this device was made with.
    public func restore(_ state: State) throws {
        try state.validate()
        configuration.withLock { $0 = Configuration(macAddress: state.macAddress, status: state.status | VirtioNetStatus.linkUp) }
    }

    /// After a restore (the transport restored too): asks the guest to announce itself (gratuitous ARP, IPv6
    /// neighbour advertisements) so switches and bridges learn where it is now, if its driver negotiated
    /// VIRTIO_NET_F_GUEST_ANNOUNCE; the driver acknowledges on the control queue. Returns whether it asked.
    @discardableResult
    public func announce() -> Bool {
        let target: VirtioInterrupt? = worker.whileIdle {
            features & VirtioNetFeature.guestAnnounce != 0 && lastError == nil ? interrupt : nil
        }
        guard let target else { return false }
        configuration.withLock { $0.status |= VirtioNetStatus.announce }
        target.raise(VirtioInterrupt.configurationChange)
        return true
    }
}
