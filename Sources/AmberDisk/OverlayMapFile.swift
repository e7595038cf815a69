import AmberSystem
import Glibc
import Synchronization

/// The persistent chunk map of an overlay: which chunks the overlay holds. The file has two slots, each
/// a complete copy (header, bitmap, checksum) with a generation number; a commit overwrites the older
/// slot and syncs it, so a crash mid-commit leaves the newer slot intact and a reader takes the valid
/// slot with the highest generation.
///
/// Slot layout (little-endian): magic "AMBRCOWM" | version u32 | chunk size u32 | logical size u64 |
/// generation u64 | base mtime seconds i64 | base mtime nanoseconds i64 | bitmap bytes u64 |
/// FNV-1a 64 of everything else in the slot u64 | bitmap; each slot padded to a 4 KiB multiple.
final class OverlayMapFile: Sendable {
    struct Layout: Equatable {
        var chunkSize: Int
        var logicalSize: UInt64
        var baseModified: (seconds: Int64, nanoseconds: Int64)

        var chunkCount: Int { Int((logicalSize + UInt64(chunkSize) - 1) / UInt64(chunkSize)) }

        static func == (lhs: Layout, rhs: Layout) -> Bool {
            lhs.chunkSize == rhs.chunkSize && lhs.logicalSize == rhs.logicalSize
                && lhs.baseModified == rhs.baseModified
        }
    }

    static let magic = Array("AMBRCOWM".utf8)
    static let version: UInt32 = 1
    static let headerSize = 64
    static let checksumOffset = 56

    let path: String
    let layout: Layout
    private let file: FileDescriptor
    /// The newest valid slot and its generation. Commits come one at a time (the overlay's lock orders
    /// them); this lock only makes that visible to the compiler, it is never contended.
    private let newest: Mutex<(generation: UInt64, slot: Int)>

    private init(path: String, file: FileDescriptor, layout: Layout, generation: UInt64, newestSlot: Int) {
        self.path = path
        self.file = file
        self.layout = layout
        newest = Mutex((generation, newestSlot))
    }

    static func slotSize(chunkCount: Int) -> Int {
        (headerSize + DiskChunkBitmap.byteCount(for: chunkCount) + 4095) / 4096 * 4096
    }

    /// Writes an empty map for `layout` at `path` in one step (a temporary file renamed into place), so
    /// `path` either does not exist or holds a complete map.
    static func create(path: String, layout: Layout) throws {
        let temporary = path + ".tmp"
        do {
            let file = try FileDescriptor.open(temporary, O_RDWR | O_CREAT | O_TRUNC, mode: 0o600)
            let empty = DiskChunkBitmap(count: layout.chunkCount)
            let slotSize = slotSize(chunkCount: layout.chunkCount)
            for slot in 0..<2 {
                let bytes = encodeSlot(layout: layout, generation: UInt64(1 - slot), bitmap: empty, slotSize: slotSize)
                try bytes.withUnsafeBytes { try file.write($0, at: UInt64(slot * slotSize)) }
            }
            try file.sync()
            try retryingInterrupts("rename \(temporary)") { rename(temporary, path) }
            try DiskFile.syncDirectory(directory(of: path))
        } catch {
            unlink(temporary)
            throw DiskError("overlay map \(path) cannot be written (\(DiskFile.describe(error))): check the directory and free space")
        }
    }

    /// Opens the map at `path` and returns it with the chunks its newest valid slot records. A writer
    /// takes an exclusive lock so two VMs never write one overlay; readers take none (see OverlayDisk).
    static func open(path: String, readOnly: Bool) throws -> (OverlayMapFile, DiskChunkBitmap) {
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(path, readOnly ? O_RDONLY : O_RDWR)
        } catch let error as SystemError {
            throw DiskError(
                "overlay map \(path) cannot be opened (\(String(cString: strerror(error.errno)))): the overlay is incomplete or was moved without its .map file"
            )
        }
        guard readOnly || flock(file.rawValue, LOCK_EX | LOCK_NB) == 0 else {
            throw DiskError("overlay map \(path) is in use by another process: stop the VM using it first")
        }
        let fileSize = try file.size()
        guard fileSize >= 8192, fileSize % 8192 == 0, fileSize <= 1 << 32 else {
            throw DiskError("overlay map \(path) is truncated or has trailing bytes (\(fileSize) bytes): discard the overlay")
        }
        let slotSize = Int(fileSize / 2)
        var newest: (slot: Int, generation: UInt64, layout: Layout, bitmap: DiskChunkBitmap)?
        var sawMagic = false
        var slotBytes = [UInt8](repeating: 0, count: slotSize)
        for slot in 0..<2 {
            _ = try slotBytes.withUnsafeMutableBytes { try file.read(into: $0, at: UInt64(slot * slotSize)) }
            sawMagic = sawMagic || Array(slotBytes[0..<8]) == magic
            guard let decoded = decodeSlot(slotBytes),
                Self.slotSize(chunkCount: decoded.layout.chunkCount) == slotSize
            else { continue }
            if newest == nil || decoded.generation > newest!.generation {
                newest = (slot, decoded.generation, decoded.layout, decoded.bitmap)
            }
        }
        guard sawMagic else {
            throw DiskError("overlay map \(path) is not an Amber overlay map (bad magic): pass the overlay's .map file")
        }
        guard let newest else {
            throw DiskError("overlay map \(path) is corrupt (no slot passes its checksum): the overlay cannot be trusted; discard it")
        }
        let map = OverlayMapFile(
            path: path, file: file, layout: newest.layout, generation: newest.generation,
            newestSlot: newest.slot)
        return (map, newest.bitmap)
    }

    /// Records `bitmap` durably: written to the older slot, then synced. Call only after the chunks it
    /// names are durable in the overlay.
    func commit(_ bitmap: DiskChunkBitmap) throws {
        try newest.withLock { newest in
            let slot = 1 - newest.slot
            let slotSize = Self.slotSize(chunkCount: layout.chunkCount)
            let bytes = Self.encodeSlot(layout: layout, generation: newest.generation + 1, bitmap: bitmap, slotSize: slotSize)
            do {
                try bytes.withUnsafeBytes { try file.write($0, at: UInt64(slot * slotSize)) }
            } catch {
                throw DiskError("overlay map \(path) cannot be written (\(DiskFile.describe(error))): check the host disk")
            }
            try DiskFile.syncData(file, name: path)
            newest = (newest.generation + 1, slot)
        }
    }

    private static func encodeSlot(layout: Layout, generation: UInt64, bitmap: DiskChunkBitmap, slotSize: Int) -> [UInt8] {
        var bytes = magic
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
        let bitmapBytes = bitmap.serialized()
        append(version)
        append(UInt32(layout.chunkSize))
        append(layout.logicalSize)
        append(generation)
        append(layout.baseModified.seconds)
        append(layout.baseModified.nanoseconds)
        append(UInt64(bitmapBytes.count))
        append(UInt64(0))
        bytes.append(contentsOf: bitmapBytes)
        bytes.append(contentsOf: [UInt8](repeating: 0, count: slotSize - bytes.count))
        let checksum = fnv1a(bytes)
        withUnsafeBytes(of: checksum.littleEndian) { bytes.replaceSubrange(checksumOffset..<(checksumOffset + 8), with: $0) }
        return bytes
    }

    private static func decodeSlot(_ slot: [UInt8]) -> (generation: UInt64, layout: Layout, bitmap: DiskChunkBitmap)? {
        guard Array(slot[0..<8]) == magic else { return nil }
        var unsummed = slot
        unsummed.replaceSubrange(checksumOffset..<(checksumOffset + 8), with: [UInt8](repeating: 0, count: 8))
        return slot.withUnsafeBytes { bytes in
            func load<T: FixedWidthInteger>(_ offset: Int, _: T.Type) -> T {
                T(littleEndian: bytes.loadUnaligned(fromByteOffset: offset, as: T.self))
            }
            guard load(checksumOffset, UInt64.self) == fnv1a(unsummed), load(8, UInt32.self) == version else { return nil }
            let chunkSize = Int(load(12, UInt32.self))
            let layout = Layout(
                chunkSize: chunkSize, logicalSize: load(16, UInt64.self),
                baseModified: (load(32, Int64.self), load(40, Int64.self)))
            let bitmapCount = Int(clamping: load(48, UInt64.self))
            guard chunkSize >= 512, chunkSize & (chunkSize - 1) == 0, layout.logicalSize <= 1 << 50,
                bitmapCount == DiskChunkBitmap.byteCount(for: layout.chunkCount),
                headerSize + bitmapCount <= bytes.count,
                let bitmap = DiskChunkBitmap(
                    count: layout.chunkCount,
                    serialized: UnsafeRawBufferPointer(
                        rebasing: bytes[headerSize..<(headerSize + bitmapCount)]))
            else { return nil }
            return (load(24, UInt64.self), layout, bitmap)
        }
    }

    private static func fnv1a(_ bytes: [UInt8]) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return hash
    }

    private static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}
