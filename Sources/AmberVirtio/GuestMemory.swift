/// Guest-physical memory as a device sees it. Every address a device uses comes from the guest and is
/// untrusted: conformers return nil unless all `count` bytes at `gpa` are RAM of one contiguous host
/// mapping, and devices treat nil as a guest error, never as a reason to crash.
public protocol GuestMemory: AnyObject, Sendable {
    func pointer(at gpa: UInt64, count: Int) -> UnsafeMutableRawPointer?

    /// Devices wrote `count` bytes at `gpa` (used rings, data read from disk). KVM's dirty log sees only
    /// the guest's own writes, so incremental snapshots merge these in. Does nothing by default.
    func didWrite(at gpa: UInt64, count: Int)
}

extension GuestMemory {
    public func didWrite(at gpa: UInt64, count: Int) {}

    /// The bytes at `gpa` as a buffer, or nil when they are not all guest RAM.
    func buffer(at gpa: UInt64, count: Int) -> UnsafeMutableRawBufferPointer? {
        pointer(at: gpa, count: count).map { UnsafeMutableRawBufferPointer(start: $0, count: count) }
    }
}
