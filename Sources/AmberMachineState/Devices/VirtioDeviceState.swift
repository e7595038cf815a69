/// One virtio-mmio device in a snapshot: where it sits, its transport (registers and queue
/// positions) and, for a block device, what its disk must look like.
public struct VirtioDeviceState: Codable, Equatable, Sendable {
    public var mmioBase: UInt64
    public var transport: VirtioMMIOTransportState
    public var block: VirtioBlockDeviceState?

    public static let maximumQueues = 64

    public init(mmioBase: UInt64, transport: VirtioMMIOTransportState, block: VirtioBlockDeviceState?) {
        self.mmioBase = mmioBase
        self.transport = transport
        self.block = block
    }

    public func validate() throws {
        guard transport.queues.count <= Self.maximumQueues else {
            throw MachineStateError(
                "saved virtio device at 0x\(String(mmioBase, radix: 16)) has \(transport.queues.count) queues, more than \(Self.maximumQueues): the state is corrupt"
            )
        }
    }
}
