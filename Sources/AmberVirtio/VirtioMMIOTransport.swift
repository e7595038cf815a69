import AmberMachineState
import AmberSystem

/// The register file of one virtio-mmio device (a 4 KiB window). The VMM calls `read`/`write` on MMIO
/// exits inside the window, from any vCPU thread. Accesses the specification does not allow (wrong
/// width, unknown offsets) read as 0 and are otherwise ignored.
/// Unchecked: the registers and queues are reached only inside `lock.withLock` (each MMIO access and
/// save/restore runs its whole body under it, through helpers that read the registers from self), which
/// the compiler cannot see.
public final class VirtioMMIOTransport: @unchecked Sendable {
    public let device: VirtioDevice
    public let interrupt: VirtioInterrupt
    private let memory: GuestMemory
    private let lock = ConditionLock()
    private var status: UInt32 = 0
    private var deviceFeaturesSelect: UInt32 = 0
    private var driverFeaturesSelect: UInt32 = 0
    private var driverFeatures: UInt64 = 0
    private var queueSelect: UInt32 = 0
    private var queueConfigurations: [VirtqueueConfiguration]
    private var activeQueues: [SplitVirtqueue?] = []

    public init(device: VirtioDevice, memory: GuestMemory, interrupt: VirtioInterrupt) {
        self.device = device
        self.memory = memory
        self.interrupt = interrupt
        queueConfigurations = Array(repeating: VirtqueueConfiguration(), count: device.queueMaximumSizes.count)
    }

    public var offeredFeatures: UInt64 {
        device.deviceFeatures | VirtioFeature.version1 | VirtioFeature.indirectDescriptors
    }

    /// Reads `size` bytes (1, 2, 4 or 8) at `offset` within the window.
    public func read(offset: UInt64, size: Int) -> UInt64 {
        if offset >= VirtioMMIORegister.configuration {
            guard offset < VirtioMMIORegister.windowSize, (1...8).contains(size) else { return 0 }
            return device.readConfiguration(offset: Int(offset - VirtioMMIORegister.configuration), size: size)
        }
        guard size == 4 else { return 0 }
        return UInt64(lock.withLock { readRegister(offset) })
    }

    /// Writes the low `size` bytes of `value` at `offset` within the window.
    public func write(offset: UInt64, size: Int, value: UInt64) {
        if offset >= VirtioMMIORegister.configuration {
            guard offset < VirtioMMIORegister.windowSize, (1...8).contains(size) else { return }
            device.writeConfiguration(offset: Int(offset - VirtioMMIORegister.configuration), size: size, value: value)
            return
        }
        guard size == 4 else { return }
        lock.withLock { writeRegister(offset, UInt32(truncatingIfNeeded: value)) }
    }

    /// `read` for a KVM MMIO exit: fills `data` (its count is the access size) little-endian.
    public func read(offset: UInt64, into data: UnsafeMutableRawBufferPointer) {
        var value = read(offset: offset, size: data.count).littleEndian
        withUnsafeBytes(of: &value) { data.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0.prefix(data.count))) }
    }

    /// `write` for a KVM MMIO exit: `data` holds the little-endian value, its count the access size.
    public func write(offset: UInt64, from data: UnsafeRawBufferPointer) {
        guard data.count <= 8 else { return }
        var value: UInt64 = 0
        withUnsafeMutableBytes(of: &value) { $0.copyMemory(from: data) }
        write(offset: offset, size: data.count, value: UInt64(littleEndian: value))
    }

    private var selectedQueue: Int? {
        Int(queueSelect) < queueConfigurations.count ? Int(queueSelect) : nil
    }

    private func readRegister(_ offset: UInt64) -> UInt32 {
        typealias R = VirtioMMIORegister
        switch offset {
        case R.magicValue: return R.magic
        case R.version: return R.currentVersion
        case R.deviceID: return device.deviceID
        case R.vendorID: return R.amberVendor
        case R.deviceFeatures:
            return deviceFeaturesSelect < 2 ? UInt32(truncatingIfNeeded: offeredFeatures >> (32 * deviceFeaturesSelect)) : 0
        case R.queueSizeMaximum: return selectedQueue.map { UInt32(device.queueMaximumSizes[$0]) } ?? 0
        case R.queueSize: return selectedQueue.map { UInt32(queueConfigurations[$0].size) } ?? 0
        case R.queueReady: return selectedQueue.map { queueConfigurations[$0].ready ? 1 : 0 } ?? 0
        case R.interruptStatus: return interrupt.status
        case R.status: return status | (interrupt.needsReset ? VirtioStatus.needsReset : 0)
        case R.sharedMemoryLengthLow, R.sharedMemoryLengthHigh, R.sharedMemoryBaseLow, R.sharedMemoryBaseHigh:
            return 0xFFFF_FFFF
        case R.configurationGeneration: return 0
        default: return 0
        }
    }

    private func writeRegister(_ offset: UInt64, _ value: UInt32) {
        typealias R = VirtioMMIORegister
        switch offset {
        case R.deviceFeaturesSelect: deviceFeaturesSelect = value
        case R.driverFeaturesSelect: driverFeaturesSelect = value
        case R.driverFeatures:
            guard status & VirtioStatus.featuresOK == 0, driverFeaturesSelect < 2 else { return }
            let shift = UInt64(32 * driverFeaturesSelect)
            driverFeatures = driverFeatures & ~(0xFFFF_FFFF << shift) | UInt64(value) << shift
        case R.queueSelect: queueSelect = value
        case R.queueSize: updateSelectedQueue { $0.size = UInt16(truncatingIfNeeded: value) }
        case R.queueReady: updateSelectedQueue(evenWhenReady: true) { $0.ready = value & 1 == 1 }
        case R.queueNotify: device.notify(queue: value)
        case R.interruptAcknowledge: interrupt.acknowledge(value)
        case R.status: writeStatus(value)
        case R.queueDescriptorLow: updateSelectedQueue { $0.descriptorTable.setLow(value) }
        case R.queueDescriptorHigh: updateSelectedQueue { $0.descriptorTable.setHigh(value) }
        case R.queueAvailableLow: updateSelectedQueue { $0.availableRing.setLow(value) }
        case R.queueAvailableHigh: updateSelectedQueue { $0.availableRing.setHigh(value) }
        case R.queueUsedLow: updateSelectedQueue { $0.usedRing.setLow(value) }
        case R.queueUsedHigh: updateSelectedQueue { $0.usedRing.setHigh(value) }
        default: return
        }
    }

    /// Queue registers change only while the queue is not ready and the driver is not yet running.
    private func updateSelectedQueue(evenWhenReady: Bool = false, _ change: (inout VirtqueueConfiguration) -> Void) {
        guard let index = selectedQueue, status & VirtioStatus.driverOK == 0,
            evenWhenReady || !queueConfigurations[index].ready
        else { return }
        change(&queueConfigurations[index])
    }

    private func writeStatus(_ value: UInt32) {
        if value == 0 {
            resetDevice()
            return
        }
        var newStatus = value
        if value & VirtioStatus.featuresOK != 0, status & VirtioStatus.featuresOK == 0, !featuresAcceptable {
            newStatus &= ~VirtioStatus.featuresOK
        }
        let startsDriver = newStatus & VirtioStatus.driverOK != 0 && status & VirtioStatus.driverOK == 0
        status = newStatus
        if startsDriver { activate(positions: nil) }
    }

    /// The driver may accept only what was offered, and must accept VERSION_1 (no legacy interface).
    private var featuresAcceptable: Bool {
        driverFeatures & ~offeredFeatures == 0 && driverFeatures & VirtioFeature.version1 != 0
    }

    private func activate(positions: [(nextAvailable: UInt16, nextUsed: UInt16)]?) {
        guard status & VirtioStatus.featuresOK != 0 else {
            interrupt.markNeedsReset()
            return
        }
        do {
            activeQueues = try queueConfigurations.enumerated().map { index, configuration in
                guard configuration.ready else { return nil }
                return try SplitVirtqueue(
                    memory: memory, configuration: configuration,
                    maximumSize: device.queueMaximumSizes[index],
                    nextAvailable: positions?[index].nextAvailable ?? 0,
                    nextUsed: positions?[index].nextUsed ?? 0)
            }
        } catch {
            activeQueues = []
            interrupt.markNeedsReset()
            return
        }
        device.activate(queues: activeQueues, negotiatedFeatures: driverFeatures, interrupt: interrupt)
    }

    private func resetDevice() {
        device.reset()
        interrupt.reset()
        status = 0
        deviceFeaturesSelect = 0
        driverFeaturesSelect = 0
        driverFeatures = 0
        queueSelect = 0
        queueConfigurations = Array(repeating: VirtqueueConfiguration(), count: queueConfigurations.count)
        activeQueues = []
    }
}

extension VirtioMMIOTransport {
    public typealias State = VirtioMMIOTransportState
    public typealias QueueState = VirtioQueueState

    /// Captures the transport. Pause the device first so that no request is in flight.
    public func save() -> State {
        lock.withLock {
            State(
                status: status, deviceFeaturesSelect: deviceFeaturesSelect, driverFeaturesSelect: driverFeaturesSelect,
                driverFeatures: driverFeatures, queueSelect: queueSelect, interruptStatus: interrupt.status,
                needsReset: interrupt.needsReset,
                queues: queueConfigurations.indices.map { index in
                    let queue = index < activeQueues.count ? activeQueues[index] : nil
                    return QueueState(
                        configuration: queueConfigurations[index],
                        nextAvailable: queue?.nextAvailable ?? 0, nextUsed: queue?.nextUsed ?? 0)
                })
        }
    }

    /// Puts the transport (and the device's queues) back as saved, re-activating a running device at
    /// its saved queue positions and re-signalling a pending interrupt. A paused device stays paused.
    public func restore(_ state: State) throws {
        guard state.queues.count == queueConfigurations.count else {
            throw VirtioError(
                "saved virtio state has \(state.queues.count) queues but device \(device.deviceID) has \(queueConfigurations.count): restore it onto the same kind of device"
            )
        }
        lock.withLock {
            resetDevice()
            status = state.status
            deviceFeaturesSelect = state.deviceFeaturesSelect
            driverFeaturesSelect = state.driverFeaturesSelect
            driverFeatures = state.driverFeatures
            queueSelect = state.queueSelect
            queueConfigurations = state.queues.map(\.configuration)
            interrupt.restore(status: state.interruptStatus, needsReset: state.needsReset)
            if status & VirtioStatus.driverOK != 0, !state.needsReset {
                activate(positions: state.queues.map { ($0.nextAvailable, $0.nextUsed) })
            }
        }
    }
}

extension UInt64 {
    fileprivate mutating func setLow(_ value: UInt32) {
        self = self & 0xFFFF_FFFF_0000_0000 | UInt64(value)
    }

    fileprivate mutating func setHigh(_ value: UInt32) {
        self = self & 0xFFFF_FFFF | UInt64(value) << 32
    }
}
