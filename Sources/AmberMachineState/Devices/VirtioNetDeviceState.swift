/// A snapshot's virtio network device: the MAC address its configuration space shows (a restore keeps
/// showing it, whatever MAC the new VM was configured with: the guest's driver already uses it) and the
/// status field (link up, announcement pending).
public struct VirtioNetDeviceState: Codable, Equatable, Sendable {
    public var macAddress: [UInt8]
    public var status: UInt16

    public static let macAddressLength = 6

    public init(macAddress: [UInt8], status: UInt16) {
        self.macAddress = macAddress
        self.status = status
    }

    public func validate() throws {
        guard macAddress.count == Self.macAddressLength else {
            throw MachineStateError(
                "saved virtio network device has a MAC address of \(macAddress.count) bytes, not \(Self.macAddressLength): the state is corrupt"
            )
        }
    }
}
