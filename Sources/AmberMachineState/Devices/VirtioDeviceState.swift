/// One virtio-mmio device in a snapshot: where it sits, its transport (registers and queue
/// positions) and, for a block device, what its disk must look like; for a network device, its MAC
/// address and status. `network` is optional and new in the same format version: states written before it
/// decode with it nil.
public struct VirtioDeviceState: Codable, Equatable, Sendable {
    public var mmioBase: UInt64
    public var transport: VirtioMMIOTransportState
    public var block: VirtioBlockDeviceState?
    public var network: VirtioNetDeviceState?

    public static let maximumQueues = 64

    public init(
        mmioBase: UInt64, transport: VirtioMMIOTransportState, block: VirtioBlockDeviceState?,
        network: VirtioNetDeviceState? = nil
    ) {
        self.mmioBase = mmioBase
        self.transport = transport
        self.block = block
        self.network = network
    }

    public func validate() throws {
        guard transport.queues.count <= Self.maximumQueues else {
            throw MachineStateError(
                "saved virtio device at 0x\(String(mmioBase, radix: 16)) has \(transport.queues.count) queues, more than \(Self.maximumQueues): the state is corrupt"
            )
        }
        guard block == nil || network == nil else {
            throw MachineStateError(
                "saved virtio device at 0x\(String(mmioBase, radix: 16)) is both a block and a network device: the state is corrupt")
        }
        try network?.validate()
    }
}
