import AmberModel
import AmberSystem
import Foundation
import Glibc
import Synchronization

/// Where a materialize spent its time: the index lookup in wall time, the rest summed over worker
/// threads (so it can exceed wall time).
public struct MaterializeTimings: Sendable, Equatable {
    public var lookupNanos: UInt64 = 0
    public var readNanos: UInt64 = 0
    public var decodeNanos: UInt64 = 0
    public var hashNanos: UInt64 = 0
    public var writeNanos: UInt64 = 0

    public init() {}

    public static func += (lhs: inout MaterializeTimings, rhs: MaterializeTimings) {
        lhs.lookupNanos += rhs.lookupNanos
        lhs.readNanos += rhs.readNanos
        lhs.decodeNanos += rhs.decodeNanos
        lhs.hashNanos += rhs.hashNanos
        lhs.writeNanos += rhs.writeNanos
    }
}

extension ChunkReader {
    /// Bytes per unit of work: the consecutive non-zero chunks of one go out in one pwrite.
    static let materializeBatchBytes = 1 << 20

    /// Locations of every distinct non-zero chunk of `manifest`; throws naming the first one missing.
    func locations(for manifest: Manifest) throws -> [ChunkDigest: ChunkLocation] {
        let wanted = Array(Set(manifest.digests.filter { !$0.isZero }))
        var found: [ChunkDigest: ChunkLocation] = [:]
        found.reserveCapacity(wanted.count)
        for start in stride(from: 0, to: wanted.count, by: 4096) {
            let batch = Array(wanted[start..<min(wanted.count, start + 4096)])
            found.merge(try index.locations(of: batch)) { first, _ in first }
        }
        if let missing = wanted.first(where: { found[$0] == nil }) { throw StoreError.missingChunk(missing) }
        return found
    }

    /// Writes the manifest's bytes into `file` (a file or memfd), which ends up exactly the manifest's
    /// length. The file is cut to that length first and zero chunks are never written, so they stay
    /// holes. Every chunk is checked against its digest. Nothing is fsynced: callers that need
    /// durability sync the file.
    public func materialize(
        _ manifest: Manifest, into file: FileDescriptor,
        progress: ProgressReport? = nil
    ) throws {
        try materialize(manifest, into: OutputFile(buffered: file, direct: nil), progress: progress)
    }

    /// Workers on their own threads, two per core (so that while some wait for the disk the others
    /// decode), each take a run of consecutive chunks, decode them straight into one buffer and write
    /// each run of non-zero chunks with one write at its offset.
    func materialize(_ manifest: Manifest, into output: OutputFile, progress: ProgressReport?) throws {
        var clock = monotonicNanos()
        let locations = try withDeltaBaseLocations(try locations(for: manifest))
        var lookup = MaterializeTimings()
        lookup.lookupNanos = lap(&clock)
        try output.buffered.truncate(to: 0)
        try output.buffered.truncate(to: manifest.logicalLength)
        if output.direct != nil { output.allocateDataRuns(of: manifest) }
        let count = manifest.digests.count
        let chunkSize = manifest.chunkSize
        let batch = max(1, Self.materializeBatchBytes / chunkSize)
        let queue = WorkQueue(count: count, batch: batch)
        let totals = IngestTotals()
        let total = Mutex(lookup)
        let maxRecord = PackFormat.recordHeaderSize + max(chunkSize, ChunkCodec.compressionBound(chunkSize)) + store.sealOverhead
        runThreads(min(2 * storeWorkerCount, max(1, (count + batch - 1) / batch))) { _ in
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: maxRecord, alignment: 16)
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: batch * chunkSize, alignment: OutputFile.directAlignment)
            defer { scratch.deallocate(); buffer.deallocate() }
            var timings = MaterializeTimings()
            while let range = queue.take() {
                do {
                    try materialize(
                        manifest, chunks: range, locations: locations, into: output, buffer: buffer,
                        scratch: scratch, timings: &timings)
                    let start = UInt64(range.lowerBound) * UInt64(chunkSize)
                    let end = min(manifest.logicalLength, UInt64(range.upperBound) * UInt64(chunkSize))
                    totals.progress(bytes: end - start, of: manifest.logicalLength, report: progress)
                } catch {
                    queue.fail(error)
                }
            }
            total.withLock { $0 += timings }
        }
        addMaterializeTimings(total.withLock { $0 })
        try queue.throwIfFailed()
    }

    /// Decodes the chunks `range` into `buffer` (chunk `range.lowerBound` at its start) and writes each
    /// run of consecutive non-zero chunks at its offset in `output`.
    private func materialize(
        _ manifest: Manifest, chunks range: Range<Int>, locations: [ChunkDigest: ChunkLocation],
        into output: OutputFile, buffer: UnsafeMutableRawBufferPointer,
        scratch: UnsafeMutableRawBufferPointer, timings: inout MaterializeTimings
    ) throws {
        let chunkSize = manifest.chunkSize
        var runStart: Int?
        func flush(upTo end: Int) throws {
            guard let start = runStart else { return }
            runStart = nil
            let first = (start - range.lowerBound) * chunkSize
            let last = (end - 1 - range.lowerBound) * chunkSize + manifest.length(ofChunk: end - 1)
            let begin = monotonicNanos()
            try output.write(UnsafeRawBufferPointer(rebasing: buffer[first..<last]), at: UInt64(start) * UInt64(chunkSize))
            timings.writeNanos += monotonicNanos() - begin
        }
        for index in range {
            let digest = manifest.digests[index]
            if digest.isZero {
                try flush(upTo: index)
                continue
            }
            let offset = (index - range.lowerBound) * chunkSize
            let slot = UnsafeMutableRawBufferPointer(rebasing: buffer[offset..<(offset + manifest.length(ofChunk: index))])
            try read(digest, at: locations[digest]!, into: slot, scratch: scratch, timings: &timings, bases: locations)
            if runStart == nil { runStart = index }
        }
        try flush(upTo: range.upperBound)
    }

    /// Materializes the manifest named `root` as the file `path`: written beside it under a temporary
    /// name and renamed into place only when complete, so a failure never leaves a partial file.
    /// With `durable` the file is fsynced before the rename and its directory after, so that after a
    /// power cut the name holds the whole file or does not exist (a file kept and trusted later, such
    /// as the restore cache's); otherwise nothing is fsynced. With `bypassingPageCache`
    /// the data goes straight to the disk (O_DIRECT) where the file system allows it: right for a
    /// file nobody reads soon (an exported image), wrong for one about to be mapped (guest memory).
    /// `mode` (less the umask) is the new file's: 0644 for a file the user asked for, 0600 inside the home.
    @discardableResult
    public func materialize(
        _ root: ChunkDigest, toPath path: String, mode: mode_t = 0o644, bypassingPageCache: Bool = false,
        durable: Bool = false,
        progress: ProgressReport? = nil
    ) throws -> Manifest {
        let manifest = try self.manifest(root)
        let temporary = TemporaryFile.path(replacing: path)
        do {
            let file = try FileDescriptor.open(temporary, O_RDWR | O_CREAT | O_TRUNC, mode: mode)
            let direct = bypassingPageCache ? try? FileDescriptor.open(temporary, O_WRONLY | OutputFile.directFlag) : nil
            try materialize(manifest, into: OutputFile(buffered: file, direct: direct), progress: progress)
            if durable { try file.sync() }
            try retryingInterrupts("rename \(temporary)") { rename(temporary, path) }
            if durable { try FileDescriptor.syncDirectory(containing: path) }
        } catch {
            unlink(temporary)
            throw StoreError.from(error, path: path)
        }
        return manifest
    }
}
