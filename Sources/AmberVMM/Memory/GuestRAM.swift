import AmberSystem
import Glibc

/// Guest RAM: one mapping in this process, exposed to the guest as one or more guest-physical
/// regions. A booted machine's is anonymous private memory; a restored one maps a memory file.
/// Private memory is what lets a snapshot hold it still while the guest runs on (`MemoryHolder`):
/// others read it through `/proc/<pid>/mem`, not through a file.
public final class GuestRAM: Sendable {
    /// A run of guest-physical addresses backed by the mapping (and its file, if any) at `fileOffset`.
    public struct Region: Equatable, Sendable {
        public let guestAddress: UInt64
        public let size: UInt64
        public let fileOffset: UInt64

        public init(guestAddress: UInt64, size: UInt64, fileOffset: UInt64) {
            self.guestAddress = guestAddress
            self.size = size
            self.fileOffset = fileOffset
        }

        public var end: UInt64 { guestAddress + size }
    }

    /// The memory file of a restored machine; nil for anonymous memory.
    public let file: FileDescriptor?
    public let mapping: MappedRegion
    public let regions: [Region]
    public let sharing: FileSharing
    public var size: UInt64 { UInt64(mapping.size) }

    /// Fresh zeroed RAM; `regions` must cover [0, total size) without gaps, in order.
    public init(regions: [Region]) throws {
        let total = regions.reduce(0) { $0 + $1.size }
        file = nil
        // MAP_NORESERVE: guest pages are allocated when touched, not charged up front; a page only
        // read (a snapshot reads them all) maps the kernel's shared zero page.
        mapping = try MappedRegion(size: Int(total), flags: MAP_PRIVATE | MAP_NORESERVE)
        self.regions = regions
        sharing = .privateCopyOnWrite
    }

    /// How a machine restored from a snapshot maps the memory file it is given.
    public enum FileSharing: Sendable {
        /// Guest writes go to the file: give each machine its own copy (a fresh memfd).
        case shared
        /// Pages come from the file when first touched and guest writes stay private to this
        /// machine, so many clones share one file; it must not change while any of them runs.
        case privateCopyOnWrite
    }

    /// Guest writes stay in this process: memory a `MemoryHolder` can hold still for a snapshot.
    public var isPrivate: Bool { sharing == .privateCopyOnWrite }

    /// Guest RAM over an existing memory file, such as a snapshot's memory materialized from the
    /// store. `regions` must cover the file [0, total size) without gaps, in order.
    public init(file: FileDescriptor, regions: [Region], sharing: FileSharing) throws {
        let total = regions.reduce(0) { $0 + $1.size }
        let fileSize = try file.size()
        guard fileSize >= total else {
            throw MachineError(
                "the memory file holds \(fileSize) bytes but the guest's RAM is \(total) bytes: give it the snapshot's whole memory")
        }
        self.file = file
        let mode = sharing == .shared ? MAP_SHARED : MAP_PRIVATE
        mapping = try MappedRegion(size: Int(total), fd: file, flags: mode | MAP_NORESERVE)
        self.regions = regions
        self.sharing = sharing
    }

    /// The host address of `count` bytes at guest address `gpa`, or nil unless they all lie in
    /// one RAM region (addresses that come from the guest are untrusted).
    public func pointer(guestAddress gpa: UInt64, count: Int) -> UnsafeMutableRawPointer? {
        guard count >= 0 else { return nil }
        for region in regions where gpa >= region.guestAddress && gpa < region.end {
            guard UInt64(count) <= region.end - gpa else { return nil }
            return mapping.pointer(at: region.fileOffset + (gpa - region.guestAddress), count: count)
        }
        return nil
    }

    /// The host address of a region's first byte.
    public func hostAddress(of region: Region) -> UnsafeMutableRawPointer {
        mapping.base + Int(region.fileOffset)
    }

    public func write(_ bytes: [UInt8], at gpa: UInt64) throws {
        guard let target = pointer(guestAddress: gpa, count: bytes.count) else {
            throw MachineError("write of \(bytes.count) bytes at guest address 0x\(String(gpa, radix: 16)) leaves guest RAM")
        }
        bytes.withUnsafeBytes { target.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
    }

    public func read<T: FixedWidthInteger>(_ type: T.Type, at gpa: UInt64) -> T? {
        pointer(guestAddress: gpa, count: MemoryLayout<T>.size)?.loadUnaligned(as: T.self)
    }
}
