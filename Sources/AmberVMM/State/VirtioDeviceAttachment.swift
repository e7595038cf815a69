import AmberVirtio

/// A virtio-mmio device attached to a machine, as its VMM holds it: what capture reads and
/// restore writes.
public struct VirtioDeviceAttachment {
    public let mmioBase: UInt64
    public let transport: VirtioMMIOTransport
    public let block: VirtioBlockDevice?
    public let network: VirtioNetDevice?

    public init(mmioBase: UInt64, transport: VirtioMMIOTransport, block: VirtioBlockDevice?, network: VirtioNetDevice? = nil) {
        self.mmioBase = mmioBase
        self.transport = transport
        self.block = block
        self.network = network
    }
}
