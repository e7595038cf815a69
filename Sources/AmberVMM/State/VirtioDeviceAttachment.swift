import AmberVirtio

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
