/// A virtio-mmio transport's registers and queue positions: what a snapshot needs to resume the device
/// where it stopped.
public struct VirtioMMIOTransportState: Codable, Equatable, Sendable {
    public var status: UInt32
    public var deviceFeaturesSelect: UInt32
    public var driverFeaturesSelect: UInt32
    public var driverFeatures: UInt64
    public var queueSelect: UInt32
    public var interruptStatus: UInt32
    public var needsReset: Bool
    public var queues: [VirtioQueueState]

    public init(
        status: UInt32, deviceFeaturesSelect: UInt32, driverFeaturesSelect: UInt32, driverFeatures: UInt64,
        queueSelect: UInt32, interruptStatus: UInt32, needsReset: Bool, queues: [VirtioQueueState]
    ) {
        self.status = status
        self.deviceFeaturesSelect = deviceFeaturesSelect
        self.driverFeaturesSelect = driverFeaturesSelect
        self.driverFeatures = driverFeatures
        self.queueSelect = queueSelect
        self.interruptStatus = interruptStatus
        self.needsReset = needsReset
        self.queues = queues
    }
}

/// One virtqueue as the driver configured it and where the device had got to in it.
public struct VirtioQueueState: Codable, Equatable, Sendable {
    public var configuration: VirtqueueConfiguration
    public var nextAvailable: UInt16
    public var nextUsed: UInt16

    public init(configuration: VirtqueueConfiguration, nextAvailable: UInt16, nextUsed: UInt16) {
        self.configuration = configuration
        self.nextAvailable = nextAvailable
        self.nextUsed = nextUsed
    }
}
