/// Guest-physical memory as a device sees it. Every address a device uses comes from the guest and is
/// untrusted: conformers return nil unless all `count` bytes at `gpa` are RAM of one contiguous host
/// mapping, and devices treat nil as a guest error, never as a reason to crash.
public protocol GuestMemory: AnyObject, Sendable {
    func pointer(at gpa: UInt64, count: Int) -> UnsafeMutableRawPointer?
}

extension GuestMemory {
    /// The bytes at `gpa` as a buffer, or nil when they are not all guest RAM.
    func buffer(at gpa: UInt64, count: Int) -> UnsafeMutableRawBufferPointer? {
        pointer(at: gpa, count: count).map { UnsafeMutableRawBufferPointer(start: $0, count: count) }
    }
}
