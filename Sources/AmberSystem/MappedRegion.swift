import Glibc

/// A memory mapping with bounds-checked access. Guest memory is one of these over a memfd.
/// Unchecked: the mapping is shared by design (vCPUs, devices and the snapshot path all reach guest
/// memory through it); the base pointer and size never change, and who writes which bytes when is
/// the users' protocol (the guest's own, or a paused VM), not something a lock here could express.
public final class MappedRegion: @unchecked Sendable {
    public let base: UnsafeMutableRawPointer
    public let size: Int

    /// Maps `size` bytes of `fd` at `offset` (shared), or anonymous memory when `fd` is nil.
    public init(
        size: Int, fd: FileDescriptor? = nil, offset: UInt64 = 0,
        protection: Int32 = PROT_READ | PROT_WRITE, flags: Int32 = MAP_SHARED
    ) throws {
        let mapFlags = fd == nil ? (flags | MAP_ANONYMOUS) : flags
        let pointer = mmap(nil, size, protection, mapFlags, fd?.rawValue ?? -1, off_t(offset))
        guard let pointer, pointer != MAP_FAILED else {
            throw SystemError("mmap \(size) bytes")
        }
        self.base = pointer
        self.size = size
    }

    deinit {
        munmap(base, size)
    }

    /// A pointer to `count` bytes at `offset`, or nil when that range leaves the region.
    public func pointer(at offset: UInt64, count: Int) -> UnsafeMutableRawPointer? {
        guard count >= 0, offset <= UInt64(size), UInt64(count) <= UInt64(size) - offset else { return nil }
        return base + Int(offset)
    }

    public var buffer: UnsafeMutableRawBufferPointer {
        UnsafeMutableRawBufferPointer(start: base, count: size)
    }
}
