import AmberSystem
import Glibc
import Synchronization

/// A copy-on-write disk: a base image that is only ever read (the user's original, or a snapshot's
/// materialized base shared by several clones) plus this VM's own overlay file (sparse, the disk's
/// logical size) and its chunk map (`<overlay>.map`, see `OverlayMapFile`) naming the chunks the
/// overlay holds. Reads come per chunk from the overlay or the base; the first write into a chunk
/// copies the chunk up from the base first unless the write covers it whole.
///
/// Crash consistency: the map on disk only ever names chunks whose data is durable. Writes land in the
/// overlay (page cache) and mark chunks in memory; `flush()` (the guest's FLUSH) fdatasyncs the overlay
/// and only then commits the map. After a crash the overlay reads exactly as at the last completed flush
/// for every chunk it held then; chunks first written after it read from the base again, which is what a
/// disk with a volatile write cache may show after power loss. amber-vmm also flushes every overlay when
/// the VM ends (power-off, reboot, stop, a stop signal) and an `OverlayMapCommitter` commits a changed map
/// within a second, so only a host crash, or a SIGKILL within that second, loses what the guest never flushed.
///
/// Snapshots: with the device paused, `flush()` then `takeDirtyChunks()`, which returns the chunks
/// written since the previous call and starts a new interval. The disk manifest of a snapshot is the
/// previous snapshot's manifest with those chunks re-hashed (read them with `readChunk`, or through a
/// read-only `OverlayDisk` in another process, before resuming the VM); the first snapshot of a disk
/// starts from the base image's manifest. A freshly opened overlay reports every chunk it holds as dirty,
/// because writes made before a restart were never handed to a snapshot.
///
/// Thread-safe: one lock orders requests, flushes and the snapshot calls.
/// Unchecked: the chunk bitmaps and the map-changed flag are reached only inside `lock.withLock` (requests,
/// flushes and the snapshot calls run their whole bodies under it, through helpers that read the bitmaps
/// from self), which the compiler cannot see.
public final class OverlayDisk: BlockBackend, @unchecked Sendable {
    /// Matches the store's default chunk size (AmberStore's `ChunkStore.defaultChunkSize`), so a dirty
    /// chunk here is one chunk of the disk manifest.
    public static let defaultChunkSize = 64 << 10

    public let basePath: String
    public let overlayPath: String
    public let size: UInt64
    public let readOnly: Bool
    public let chunkSize: Int
    public let chunkCount: Int

    private let base: FileDescriptor
    private let overlay: FileDescriptor
    private let map: OverlayMapFile
    private let lock = ConditionLock()
    private var inOverlay: DiskChunkBitmap
    private var dirty: DiskChunkBitmap
    private var mapChangedSinceCommit = false
    private let copyBuffer: UnsafeMutableRawBufferPointer

    public static func mapPath(forOverlay overlayPath: String) -> String { overlayPath + ".map" }

    /// Creates an empty overlay at `overlayPath` over `basePath` and opens it read-write. Nothing is left
    /// behind when it fails. Clones each create their own overlay over one shared base.
    @discardableResult
    public static func create(basePath: String, overlayPath: String, chunkSize: Int = defaultChunkSize) throws -> OverlayDisk {
        guard chunkSize >= 4096, chunkSize <= 64 << 20, chunkSize & (chunkSize - 1) == 0 else {
            throw DiskError("overlay chunk size \(chunkSize) is not a power of two between 4 KiB and 64 MiB: pick one such as 65536")
        }
        let base = try openBase(basePath)
        let layout = OverlayMapFile.Layout(
            chunkSize: chunkSize, logicalSize: try DiskFile.size(of: base, name: basePath),
            baseModified: DiskFile.modificationTime(of: base))
        let overlay: FileDescriptor
        do {
            overlay = try FileDescriptor.open(overlayPath, O_RDWR | O_CREAT | O_EXCL, mode: 0o600)
        } catch let error as SystemError {
            let hint = error.errno == EEXIST ? "remove it or pick another path" : "check the directory and its permissions"
            throw DiskError("overlay \(overlayPath) cannot be created (\(String(cString: strerror(error.errno)))): \(hint)")
        }
        do {
            try overlay.truncate(to: layout.logicalSize)
            try overlay.sync()
            try OverlayMapFile.create(path: mapPath(forOverlay: overlayPath), layout: layout)
            return try OverlayDisk(basePath: basePath, overlayPath: overlayPath)
        } catch {
            unlink(overlayPath)
            unlink(mapPath(forOverlay: overlayPath))
            if let error = error as? DiskError { throw error }
            throw DiskError("overlay \(overlayPath) cannot be created (\(DiskFile.describe(error))): check free space")
        }
    }

    /// Deletes an overlay and its map (the base stays). Missing files are not an error.
    public static func remove(overlayPath: String) throws {
        for path in [mapPath(forOverlay: overlayPath), overlayPath] where unlink(path) != 0 && errno != ENOENT {
            throw DiskError("overlay \(path) cannot be removed (\(String(cString: strerror(errno)))): check its permissions")
        }
    }

    /// Opens an existing overlay over `basePath`, checking that the base is the one it was made over.
    /// One process at a time may open it read-write. Read-only opens take no lock and see the overlay as
    /// of its writer's last flush: the capture code pauses the device and flushes it before reading
    /// chunks from another process.
    public init(basePath: String, overlayPath: String, readOnly: Bool = false) throws {
        base = try Self.openBase(basePath)
        let baseSize = try DiskFile.size(of: base, name: basePath)
        let (map, chunks) = try OverlayMapFile.open(path: Self.mapPath(forOverlay: overlayPath), readOnly: readOnly)
        let layout = map.layout
        guard layout.logicalSize == baseSize else {
            throw DiskError(
                "base \(basePath) is \(baseSize) bytes but overlay \(overlayPath) was made over a base of \(layout.logicalSize) bytes: pass the base the overlay was created on"
            )
        }
        guard layout.baseModified == DiskFile.modificationTime(of: base) else {
            throw DiskError(
                "base \(basePath) was modified after overlay \(overlayPath) was created over it: the overlay no longer matches; restore the base or discard the overlay"
            )
        }
        do {
            overlay = try FileDescriptor.open(overlayPath, readOnly ? O_RDONLY : O_RDWR)
        } catch let error as SystemError {
            throw DiskError(
                "overlay \(overlayPath) cannot be opened (\(String(cString: strerror(error.errno)))): check the path and its permissions")
        }
        let overlaySize = try DiskFile.size(of: overlay, name: overlayPath)
        guard overlaySize == layout.logicalSize else {
            throw DiskError(
                "overlay \(overlayPath) is \(overlaySize) bytes but its map describes \(layout.logicalSize): the overlay is damaged; discard it"
            )
        }
        self.basePath = basePath
        self.overlayPath = overlayPath
        self.map = map
        self.readOnly = readOnly
        size = layout.logicalSize
        chunkSize = layout.chunkSize
        chunkCount = layout.chunkCount
        inOverlay = chunks
        dirty = chunks
        copyBuffer = .allocate(byteCount: layout.chunkSize, alignment: 4096)
    }

    deinit {
        try? flush()
        copyBuffer.deallocate()
    }

    private static func openBase(_ path: String) throws -> FileDescriptor {
        do {
            return try FileDescriptor.open(path, O_RDONLY)
        } catch let error as SystemError {
            throw DiskError(
                "base image \(path) cannot be opened (\(String(cString: strerror(error.errno)))): check the path and its permissions")
        }
    }

    // MARK: BlockBackend

    public func read(into buffers: [UnsafeMutableRawBufferPointer], at offset: UInt64) throws {
        let count = buffers.totalByteCount
        try checkRange(offset: offset, count: count, name: overlayPath)
        guard count > 0 else { return }
        let chunks = chunkIndex(offset)...chunkIndex(offset + UInt64(count) - 1)
        try lock.withLock {
            let fromOverlay = inOverlay[chunks.lowerBound]
            if chunks.allSatisfy({ inOverlay[$0] == fromOverlay }) {
                try readRun(into: buffers, at: offset, fromOverlay: fromOverlay)
                return
            }
            var position = 0
            for run in sourceRuns(offset: offset, count: count) {
                let pieces = buffers.byteRange(from: position, count: run.count)
                try readRun(into: pieces, at: offset + UInt64(position), fromOverlay: run.fromOverlay)
                position += run.count
            }
        }
    }

    private func readRun(into buffers: [UnsafeMutableRawBufferPointer], at offset: UInt64, fromOverlay: Bool) throws {
        guard try VectoredIO.read(fromOverlay ? overlay : base, into: buffers, at: offset) else {
            throw DiskError(
                "\(fromOverlay ? "overlay \(overlayPath)" : "base \(basePath)") ended early at offset \(offset): was it truncated?")
        }
    }

    public func write(from buffers: [UnsafeMutableRawBufferPointer], at offset: UInt64) throws {
        guard !readOnly else { throw DiskError("overlay \(overlayPath) is open read-only") }
        let count = buffers.totalByteCount
        try checkRange(offset: offset, count: count, name: overlayPath)
        guard count > 0 else { return }
        let end = offset + UInt64(count)
        let chunks = chunkIndex(offset)...chunkIndex(end - 1)
        try lock.withLock {
            // Dirty before any byte moves: a write that fails halfway may still have changed its chunks.
            for chunk in chunks { dirty[chunk] = true }
            for chunk in chunks where !inOverlay[chunk] {
                let range = chunkRange(chunk)
                if offset > range.lowerBound || end < range.upperBound {
                    try copyUp(chunk)
                }
            }
            do {
                guard try VectoredIO.write(overlay, from: buffers, at: offset) else {
                    throw DiskError("overlay \(overlayPath) took no bytes at offset \(offset)")
                }
            } catch let error as SystemError {
                throw DiskError(
                    "overlay \(overlayPath) cannot be written (\(String(cString: strerror(error.errno)))): check free space on the host disk"
                )
            }
            for chunk in chunks { markInOverlay(chunk) }
        }
    }

    /// Overlay data first (fdatasync), then the map that names it.
    public func flush() throws {
        guard !readOnly else { return }
        try lock.withLock {
            try DiskFile.syncData(overlay, name: overlayPath)
            if mapChangedSinceCommit {
                try map.commit(inOverlay)
                mapChangedSinceCommit = false
            }
        }
    }

    /// `flush()`, but only when a write changed the map since its last commit (`OverlayMapCommitter`'s tick).
    public func commitMapIfChanged() throws {
        guard !readOnly else { return }
        try lock.withLock {
            guard mapChangedSinceCommit else { return }
            try DiskFile.syncData(overlay, name: overlayPath)
            try map.commit(inOverlay)
            mapChangedSinceCommit = false
        }
    }

    // MARK: snapshot, rollback, clone

    /// The chunks written since the last call (or since the overlay was opened), ascending, and a new
    /// interval begins. Call while the device is paused so the set matches the content being captured.
    public func takeDirtyChunks() -> [Int] {
        lock.withLock {
            let chunks = dirty.indices
            dirty = DiskChunkBitmap(count: dirty.count)
            return chunks
        }
    }

    /// Marks chunks changed again: a snapshot that took them with `takeDirtyChunks` was never recorded,
    /// so the next one must read them.
    public func markDirty(_ chunks: [Int]) {
        lock.withLock {
            for index in chunks where index >= 0 && index < dirty.count { dirty[index] = true }
        }
    }

    /// Every chunk the overlay holds (those that may differ from the base), ascending.
    public func overlayChunks() -> [Int] {
        lock.withLock { inOverlay.indices }
    }

    /// Bytes in chunk `index` (`chunkSize`, less for a short last chunk).
    public func chunkLength(_ index: Int) -> Int {
        chunkRange(index).count
    }

    /// Reads chunk `index` as the guest sees it into `buffer` (at least `chunkLength(index)` bytes);
    /// returns the number of bytes read.
    @discardableResult
    public func readChunk(_ index: Int, into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        guard index >= 0, index < chunkCount else {
            throw DiskError("overlay \(overlayPath) has no chunk \(index) (it has \(chunkCount))")
        }
        let length = chunkLength(index)
        precondition(buffer.count >= length, "readChunk needs a buffer of chunkLength(index) bytes")
        try read(into: [UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length])], at: UInt64(index * chunkSize))
        return length
    }

    /// Discards everything written: the disk reads as its base again. The emptied map is committed
    /// before the overlay's blocks are released, so a crash in between still reads as the base. The
    /// discarded chunks count as dirty (they changed back).
    public func reset() throws {
        guard !readOnly else { throw DiskError("overlay \(overlayPath) is open read-only") }
        try lock.withLock {
            dirty.formUnion(inOverlay)
            inOverlay = DiskChunkBitmap(count: inOverlay.count)
            try map.commit(inOverlay)
            mapChangedSinceCommit = false
            do {
                try overlay.truncate(to: 0)
                try overlay.truncate(to: size)
            } catch {
                throw DiskError("overlay \(overlayPath) cannot be emptied (\(DiskFile.describe(error))): check the host disk")
            }
        }
    }

    // MARK: chunks

    private func chunkIndex(_ offset: UInt64) -> Int { Int(offset / UInt64(chunkSize)) }

    private func chunkRange(_ index: Int) -> Range<UInt64> {
        let start = UInt64(index) * UInt64(chunkSize)
        return start..<min(start + UInt64(chunkSize), size)
    }

    private func markInOverlay(_ chunk: Int) {
        if !inOverlay[chunk] {
            inOverlay[chunk] = true
            mapChangedSinceCommit = true
        }
    }

    /// Puts chunk `index`'s base content into the overlay so a partial write can land on top of it.
    private func copyUp(_ index: Int) throws {
        let range = chunkRange(index)
        let buffer = UnsafeMutableRawBufferPointer(rebasing: copyBuffer[0..<range.count])
        do {
            guard try base.read(into: buffer, at: range.lowerBound) == range.count else {
                throw DiskError("base \(basePath) ended early at offset \(range.lowerBound): was it truncated?")
            }
            try overlay.write(UnsafeRawBufferPointer(buffer), at: range.lowerBound)
        } catch let error as SystemError {
            throw DiskError(
                "overlay \(overlayPath) cannot copy chunk \(index) up from its base (\(String(cString: strerror(error.errno)))): check free space on the host disk"
            )
        }
        markInOverlay(index)
    }

    /// Splits `count` bytes from `offset` into runs of consecutive chunks read from the same file.
    private func sourceRuns(offset: UInt64, count: Int) -> [(fromOverlay: Bool, count: Int)] {
        let end = offset + UInt64(count)
        var runs: [(fromOverlay: Bool, count: Int)] = []
        var position = offset
        while position < end {
            let chunk = chunkIndex(position)
            let fromOverlay = inOverlay[chunk]
            let stop = min(chunkRange(chunk).upperBound, end)
            let length = Int(stop - position)
            if let last = runs.last, last.fromOverlay == fromOverlay {
                runs[runs.count - 1].count += length
            } else {
                runs.append((fromOverlay, length))
            }
            position = stop
        }
        return runs
    }
}
