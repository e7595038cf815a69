import AmberVirtio

/// One virtio-mmio device in a snapshot: where it sits, its transport (registers and queue
/// positions) and, for a block device, what its disk must look like.
public struct VirtioDeviceState: Codable, Equatable, Sendable {
    public var mmioBase: UInt64
    public var transport: VirtioMMIOTransport.State
    public var block: VirtioBlockDevice.State?

    public static let maximumQueues = 64

    public func validate() throws {
        guard transport.queues.count <= Self.maximumQueues else {
            throw MachineStateError("saved virtio device at 0x\(String(mmioBase, radix: 16)) has \(transport.queues.count) queues, more than \(Self.maximumQueues): the state is corrupt")
        }
    }
}

/// A virtio-mmio device attached to a machine, as its VMM holds it: what capture reads and
/// restore writes.
public struct VirtioDeviceAttachment {
    public let mmioBase: UInt64
    public let transport: VirtioMMIOTransport
    public let block: VirtioBlockDevice?

    public init(mmioBase: UInt64, transport: VirtioMMIOTransport, block: VirtioBlockDevice?) {
        self.mmioBase = mmioBase
        self.transport = transport
        self.block = block
    }
}
