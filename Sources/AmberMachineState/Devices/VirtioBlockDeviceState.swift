/// What must match when a snapshot's virtio block device is restored onto a device: its disk's size and mode.
public struct VirtioBlockDeviceState: Codable, Equatable, Sendable {
    public var capacitySectors: UInt64
    public var readOnly: Bool

    public init(capacitySectors: UInt64, readOnly: Bool) {
        self.capacitySectors = capacitySectors
        self.readOnly = readOnly
    }
}
