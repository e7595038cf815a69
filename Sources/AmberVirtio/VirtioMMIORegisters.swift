/// Register offsets and values of the virtio-mmio transport, version 2 (virtio 1.x, section 4.2.2).
public enum VirtioMMIORegister {
    public static let magicValue: UInt64 = 0x000
    public static let version: UInt64 = 0x004
    public static let deviceID: UInt64 = 0x008
    public static let vendorID: UInt64 = 0x00C
    public static let deviceFeatures: UInt64 = 0x010
    public static let deviceFeaturesSelect: UInt64 = 0x014
    public static let driverFeatures: UInt64 = 0x020
    public static let driverFeaturesSelect: UInt64 = 0x024
    public static let queueSelect: UInt64 = 0x030
    public static let queueSizeMaximum: UInt64 = 0x034
    public static let queueSize: UInt64 = 0x038
    public static let queueReady: UInt64 = 0x044
    /// The VMM registers each device's notify eventfd as a KVM ioeventfd at base + this offset.
    public static let queueNotify: UInt64 = 0x050
    public static let interruptStatus: UInt64 = 0x060
    public static let interruptAcknowledge: UInt64 = 0x064
    public static let status: UInt64 = 0x070
    public static let queueDescriptorLow: UInt64 = 0x080
    public static let queueDescriptorHigh: UInt64 = 0x084
    public static let queueAvailableLow: UInt64 = 0x090
    public static let queueAvailableHigh: UInt64 = 0x094
    public static let queueUsedLow: UInt64 = 0x0A0
    public static let queueUsedHigh: UInt64 = 0x0A4
    /// Shared memory regions: none here, which the length and base registers say with all ones.
    public static let sharedMemoryLengthLow: UInt64 = 0x0B0
    public static let sharedMemoryLengthHigh: UInt64 = 0x0B4
    public static let sharedMemoryBaseLow: UInt64 = 0x0B8
    public static let sharedMemoryBaseHigh: UInt64 = 0x0BC
    public static let configurationGeneration: UInt64 = 0x0FC
    public static let configuration: UInt64 = 0x100
    public static let windowSize: UInt64 = 0x1000

    /// "virt" in little-endian.
    public static let magic: UInt32 = 0x7472_6976
    public static let currentVersion: UInt32 = 2
    /// Amber's vendor id: "AMBR".
    public static let amberVendor: UInt32 = 0x5242_4D41
}

/// Device status bits (virtio 1.x, section 2.1).
public enum VirtioStatus {
    public static let acknowledge: UInt32 = 1
    public static let driver: UInt32 = 2
    public static let driverOK: UInt32 = 4
    public static let featuresOK: UInt32 = 8
    public static let needsReset: UInt32 = 64
    public static let failed: UInt32 = 128
}

/// Feature bits every device behind this transport offers.
public enum VirtioFeature {
    public static let indirectDescriptors: UInt64 = 1 << 28
    public static let version1: UInt64 = 1 << 32
}
