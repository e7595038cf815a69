import AmberVirtio

/// A virtio-mmio register window already speaks the bus's read/write-by-offset language.
extension VirtioMMIOTransport: BusDevice {}

/// Guest RAM is the memory virtio devices read descriptors and buffers from.
extension GuestRAM: GuestMemory {
    public func pointer(at gpa: UInt64, count: Int) -> UnsafeMutableRawPointer? {
        pointer(guestAddress: gpa, count: count)
    }
}

/// Block devices stop their worker between requests while the machine is paused.
extension VirtioBlockDevice: PausableDevice {}

/// Network devices stop reading the tap and serving their queues while the machine is paused.
extension VirtioNetDevice: PausableDevice {}
