import AmberSystem
import Glibc

/// Where an ingest spent its time, summed over worker threads (so it can exceed wall time).
public struct IngestTimings: Sendable, Equatable {
    public var readNanos: UInt64 = 0
    public var zeroCheckNanos: UInt64 = 0
    public var hashNanos: UInt64 = 0
    public var lookupNanos: UInt64 = 0
    public var compressNanos: UInt64 = 0
    public var writeNanos: UInt64 = 0
    /// Reading delta bases and comparing pages (the part of storing new chunks that deltas add).
    public var deltaNanos: UInt64 = 0

    public init() {}

    public static func += (lhs: inout IngestTimings, rhs: IngestTimings) {
        lhs.readNanos += rhs.readNanos
        lhs.zeroCheckNanos += rhs.zeroCheckNanos
        lhs.hashNanos += rhs.hashNanos
        lhs.lookupNanos += rhs.lookupNanos
        lhs.compressNanos += rhs.compressNanos
        lhs.writeNanos += rhs.writeNanos
        lhs.deltaNanos += rhs.deltaNanos
    }
}

public struct IngestResult: Sendable {
    /// The manifest's root digest: what the catalog records for an image or memory region.
    public var manifest: ChunkDigest
    public var logicalBytes: UInt64
    public var chunkCount: Int
    public var zeroChunks: Int
    /// Chunks this ingest added to the store, their raw bytes and the pack bytes their records take.
    public var newChunks: Int
    public var newRawBytes: UInt64
    public var newStoredBytes: UInt64
    /// Of the new chunks, those stored as deltas on the base manifest's chunks.
    public var deltaChunks: Int
}

extension StoreWriter {
    /// Chunks per unit of work: one read, one index lookup and one progress report per batch.
    static let batchChunks = 32

    /// Ingests a regular file. It is mapped and hashed in place (no copy; the page cache is the only
    /// memory used); if it cannot be mapped, every worker preads one batch at a time instead. A file
    /// truncated by someone else mid-import kills the process with SIGBUS, which commit order makes
    /// harmless to the store.
    public func ingest(file path: String, chunkSize: Int? = nil,
                       progress: ((UInt64, UInt64) -> Void)? = nil) throws -> IngestResult {
        try ingest(file: path, chunkSize: chunkSize, mapping: true, progress: progress)
    }

    func ingest(file path: String, chunkSize: Int?, mapping: Bool,
                progress: ((UInt64, UInt64) -> Void)?) throws -> IngestResult {
        let file: FileDescriptor
        do {
            file = try FileDescriptor.open(path, O_RDONLY)
        } catch let error as SystemError where error.errno == ENOENT {
            throw StoreError.io(operation: "open \(path)", reason: "no such file; check the path")
        }
        var info = stat()
        try retryingInterrupts("fstat \(path)") { fstat(file.rawValue, &info) }
        guard (info.st_mode & S_IFMT) == S_IFREG else { throw StoreError.notARegularFile(path: path) }
        let length = UInt64(info.st_size)
        if mapping, length > 0, let mapped = try? MappedRegion(size: Int(length), fd: file, protection: PROT_READ, flags: MAP_SHARED) {
            return try ingest(buffer: UnsafeRawBufferPointer(mapped.buffer), chunkSize: chunkSize, progress: progress)
        }
        return try ingest(length: length, chunkSize: chunkSize ?? store.chunkSize, progress: progress) { start, count, input in
            let window = UnsafeMutableRawBufferPointer(rebasing: input[0..<count])
            guard try file.read(into: window, at: start) == count else { throw StoreError.inputChanged(path: path) }
            return UnsafeRawBufferPointer(window)
        }
    }

    /// Ingests memory (an mmap'd memfd of guest memory, say) without copying it.
    public func ingest(buffer: UnsafeRawBufferPointer, chunkSize: Int? = nil,
                       progress: ((UInt64, UInt64) -> Void)? = nil) throws -> IngestResult {
        try ingest(length: UInt64(buffer.count), chunkSize: chunkSize ?? store.chunkSize, progress: progress,
                   zeroCopy: true) { start, count, _ in
            UnsafeRawBufferPointer(rebasing: buffer[Int(start)..<(Int(start) + count)])
        }
    }

    /// Ingests `length` bytes that `read(offset, buffer)` fills in, one batch at a time from several
    /// threads at once (so `read` must be thread-safe): memory of another process through
    /// `/proc/<pid>/mem`, a copy-on-write disk through its overlay. With `deltaBase` (the manifest of
    /// an earlier version of the same bytes: the parent snapshot's memory), a new chunk whose
    /// counterpart there differs in few pages is stored as a delta on it. `known(index)` gives the
    /// digest of a chunk the caller knows without reading it: `.zero`, or a chunk already committed
    /// (the caller looked it up under its lease); those chunks are neither hashed nor looked at, so
    /// `read` may leave their bytes unfilled.
    public func ingest(length: UInt64, chunkSize: Int? = nil, deltaBase: Manifest? = nil, known: ((Int) -> ChunkDigest?)? = nil,
                       progress: ((UInt64, UInt64) -> Void)? = nil,
                       read: (UInt64, UnsafeMutableRawBufferPointer) throws -> Void) throws -> IngestResult {
        try ingest(length: length, chunkSize: chunkSize ?? store.chunkSize, deltaBase: deltaBase, known: known, progress: progress) { start, count, input in
            let window = UnsafeMutableRawBufferPointer(rebasing: input[0..<count])
            try read(start, window)
            return UnsafeRawBufferPointer(window)
        }
    }

    /// The parallel pipeline. Each worker takes a batch of chunks, gets their bytes (`bytesAt(start,
    /// count, input)` reads into the worker's input buffer, or returns memory it already has), skips zero chunks, hashes the rest, asks the
    /// index once per batch which are already stored, and compresses and appends the new ones.
    private func ingest(length: UInt64, chunkSize: Int, deltaBase: Manifest? = nil, known: ((Int) -> ChunkDigest?)? = nil,
                        progress: ((UInt64, UInt64) -> Void)?, zeroCopy: Bool = false,
                        bytesAt: (UInt64, Int, UnsafeMutableRawBufferPointer) throws -> UnsafeRawBufferPointer) throws -> IngestResult {
        guard chunkSize >= 4096, chunkSize <= PackFormat.maxRecordPayload, chunkSize & (chunkSize - 1) == 0 else {
            throw StoreError.invalidChunkSize(chunkSize)
        }
        let count = Manifest.chunkCount(length: length, chunkSize: chunkSize)
        var digests = [ChunkDigest](repeating: .zero, count: count)
        let queue = WorkQueue(count: count, batch: Self.batchChunks)
        let totals = IngestTotals()
        digests.withUnsafeMutableBufferPointer { manifest in
            let manifest = manifest
            runWorkers(min(storeWorkerCount, max(1, (count + Self.batchChunks - 1) / Self.batchChunks))) { _ in
                let input = UnsafeMutableRawBufferPointer.allocate(byteCount: zeroCopy ? 0 : Self.batchChunks * chunkSize, alignment: 4096)
                let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.batchChunks * Self.scratchSize(chunkSize), alignment: 16)
                let delta = deltaBase.map { _ in DeltaScratch(chunkSize: chunkSize) }
                defer { input.deallocate(); scratch.deallocate() }
                var timings = IngestTimings()
                var local = IngestTotals.Counts()
                while let range = queue.take() {
                    do {
                        let start = UInt64(range.lowerBound) * UInt64(chunkSize)
                        let end = min(length, UInt64(range.upperBound) * UInt64(chunkSize))
                        let knownDigests = known.map { known in range.map(known) }
                        for (index, digest) in zip(range, knownDigests ?? []) {
                            guard let digest else { continue }
                            if digest.isZero { local.zeroChunks += 1 } else { manifest[index] = digest }
                        }
                        if let knownDigests, !knownDigests.contains(nil) {
                            totals.progress(bytes: end - start, of: length, report: progress)
                            continue
                        }
                        var clock = monotonicNanos()
                        let bytes = try bytesAt(start, Int(end - start), input)
                        timings.readNanos += lap(&clock)
                        var candidates: [(index: Int, digest: ChunkDigest)] = []
                        for index in range where knownDigests?[index - range.lowerBound] == nil {
                            let offset = (index - range.lowerBound) * chunkSize
                            let chunk = UnsafeRawBufferPointer(rebasing: bytes[offset..<min(bytes.count, offset + chunkSize)])
                            if isAllZero(chunk) {
                                local.zeroChunks += 1
                                timings.zeroCheckNanos += lap(&clock)
                                continue
                            }
                            timings.zeroCheckNanos += lap(&clock)
                            let digest = ChunkDigest.of(chunk)
                            manifest[index] = digest
                            candidates.append((index, digest))
                            timings.hashNanos += lap(&clock)
                        }
                        guard !candidates.isEmpty else {
                            totals.progress(bytes: end - start, of: length, report: progress)
                            continue
                        }
                        let known = try index.storedDigests(among: candidates.map(\.digest))
                        var fresh = claim(candidates.map(\.digest).filter { !known.contains($0) })
                        timings.lookupNanos += lap(&clock)
                        var newChunks: [(digest: ChunkDigest, bytes: UnsafeRawBufferPointer, base: ChunkDigest?)] = []
                        for candidate in candidates where fresh.remove(candidate.digest) != nil {
                            let offset = (candidate.index - range.lowerBound) * chunkSize
                            let chunk = UnsafeRawBufferPointer(rebasing: bytes[offset..<min(bytes.count, offset + chunkSize)])
                            let base = deltaBase?.deltaBase(forChunk: candidate.index, digest: candidate.digest, length: chunk.count)
                            newChunks.append((candidate.digest, chunk, base))
                            local.newRawBytes += UInt64(chunk.count)
                        }
                        if !newChunks.isEmpty {
                            clock = monotonicNanos()
                            try delta?.lookUp(newChunks.compactMap(\.base), reader: reader)
                            timings.deltaNanos += lap(&clock)
                            let stored = try storeNew(newChunks, scratch: scratch, delta: delta, timings: &timings)
                            local.newStoredBytes += UInt64(stored.length)
                            local.deltaChunks += stored.deltas
                            local.newChunks += newChunks.count
                        }
                        totals.progress(bytes: end - start, of: length, report: progress)
                    } catch {
                        queue.fail(error)
                    }
                }
                addTimings(timings)
                totals.add(local)
            }
        }
        try queue.throwIfFailed()
        let manifest = Manifest(chunkSize: chunkSize, logicalLength: length, digests: digests)
        let root = try put(manifest)
        let counts = totals.counts
        return IngestResult(manifest: root, logicalBytes: length, chunkCount: count, zeroChunks: counts.zeroChunks,
                            newChunks: counts.newChunks, newRawBytes: counts.newRawBytes, newStoredBytes: counts.newStoredBytes,
                            deltaChunks: counts.deltaChunks)
    }
}

extension Manifest {
    /// The digest a new chunk `index` of `length` bytes with digest `digest` can be stored as a delta
    /// on: this manifest's chunk at the same place, when it has data, the same length and other bytes.
    func deltaBase(forChunk index: Int, digest: ChunkDigest, length: Int) -> ChunkDigest? {
        guard index < digests.count, self.length(ofChunk: index) == length else { return nil }
        let base = digests[index]
        return base.isZero || base == digest ? nil : base
    }
}
