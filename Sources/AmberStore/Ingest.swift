import AmberModel
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
    /// Sealing payloads (AES-256-GCM) in an encrypted store.
    public var sealNanos: UInt64 = 0

    public init() {}

    public static func += (lhs: inout IngestTimings, rhs: IngestTimings) {
        lhs.readNanos += rhs.readNanos
        lhs.zeroCheckNanos += rhs.zeroCheckNanos
        lhs.hashNanos += rhs.hashNanos
        lhs.lookupNanos += rhs.lookupNanos
        lhs.compressNanos += rhs.compressNanos
        lhs.writeNanos += rhs.writeNanos
        lhs.deltaNanos += rhs.deltaNanos
        lhs.sealNanos += rhs.sealNanos
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

    /// Ingests an image file (see `IngestFile`). It is mapped, zero chunks are recognised in place
    /// and every other chunk is copied once into private memory (see `IngestSource`); if it cannot be
    /// mapped, every worker preads one batch at a time instead. A file truncated by someone else
    /// mid-import kills the process with SIGBUS, which commit order makes harmless to the store.
    public func ingest(
        file path: String, chunkSize: Int? = nil,
        progress: ProgressReport? = nil
    ) throws -> IngestResult {
        try ingest(try IngestFile(path: path), chunkSize: chunkSize, progress: progress)
    }

    public func ingest(
        _ file: IngestFile, chunkSize: Int? = nil,
        progress: ProgressReport? = nil
    ) throws -> IngestResult {
        try ingest(file, chunkSize: chunkSize, mapping: true, progress: progress)
    }

    func ingest(
        _ file: IngestFile, chunkSize: Int?, mapping: Bool,
        progress: ProgressReport?
    ) throws -> IngestResult {
        let length = file.length
        let chunkSize = chunkSize ?? store.chunkSize
        // Chunks wholly in holes are zero chunks, never read (the map is the file's at this instant).
        let holdingData = file.chunksHoldingData(chunkSize: chunkSize)
        let holes = holdingData.map { holding in { @Sendable (index: Int) -> ChunkDigest? in holding[index] ? nil : .zero } }
        if mapping, length > 0,
            let mapped = try? MappedRegion(size: Int(length), fd: file.descriptor, protection: PROT_READ, flags: MAP_SHARED)
        {
            return try withExtendedLifetime(mapped) {
                try ingest(
                    length: length, chunkSize: chunkSize, known: holes, progress: progress,
                    source: .shared(UnsafeRawBufferPointer(mapped.buffer)))
            }
        }
        return try ingest(
            length: length, chunkSize: chunkSize, known: holes, progress: progress,
            source: .reading { start, window in
                guard try file.descriptor.read(into: window, at: start) == window.count else {
                    throw StoreError.inputChanged(path: file.path)
                }
            })
    }

    /// Ingests memory (an mmap'd memfd of guest memory, say); zero chunks are recognised in place, the
    /// others copied once each (see `IngestSource`).
    public func ingest(
        buffer: UnsafeRawBufferPointer, chunkSize: Int? = nil,
        progress: ProgressReport? = nil
    ) throws -> IngestResult {
        try ingest(length: UInt64(buffer.count), chunkSize: chunkSize ?? store.chunkSize, progress: progress, source: .shared(buffer))
    }

    /// Ingests `length` bytes that `read(offset, buffer)` fills in, one batch at a time from several
    /// threads at once (so `read` must be thread-safe): memory of another process through
    /// `/proc/<pid>/mem`, a copy-on-write disk through its overlay. With `deltaBase` (the manifest of
    /// an earlier version of the same bytes: the parent snapshot's memory), a new chunk whose
    /// counterpart there differs in few pages is stored as a delta on it. `known(index)` gives the
    /// digest of a chunk the caller knows without reading it: `.zero`, or a chunk already committed
    /// (the caller looked it up under its lease); those chunks are neither hashed nor looked at, so
    /// `read` may leave their bytes unfilled.
    public func ingest(
        length: UInt64, chunkSize: Int? = nil, deltaBase: Manifest? = nil, known: (@Sendable (Int) -> ChunkDigest?)? = nil,
        progress: ProgressReport? = nil,
        read: @Sendable (UInt64, UnsafeMutableRawBufferPointer) throws -> Void
    ) throws -> IngestResult {
        try withoutActuallyEscaping(read) { read in
            try ingest(
                length: length, chunkSize: chunkSize ?? store.chunkSize, deltaBase: deltaBase, known: known, progress: progress,
                source: .reading(read))
        }
    }

    /// The parallel pipeline. Each worker takes a batch of chunks, gets their bytes into its private
    /// input buffer (see `IngestSource`), skips zero chunks, hashes the rest, asks the index once per
    /// batch which are already stored, and compresses and appends the new ones, all from that buffer.
    private func ingest(
        length: UInt64, chunkSize: Int, deltaBase: Manifest? = nil, known: (@Sendable (Int) -> ChunkDigest?)? = nil,
        progress: ProgressReport?, source: IngestSource
    ) throws -> IngestResult {
        guard chunkSize >= 4096, chunkSize <= PackFormat.maxRecordPayload, chunkSize & (chunkSize - 1) == 0 else {
            throw StoreError.invalidChunkSize(chunkSize)
        }
        let count = Manifest.chunkCount(length: length, chunkSize: chunkSize)
        var digests = [ChunkDigest](repeating: .zero, count: count)
        let queue = WorkQueue(count: count, batch: Self.batchChunks)
        let namer = store.namer
        let totals = IngestTotals()
        // Not Sendable only for a `.shared` source's pointer: memory the workers only read, which the
        // caller keeps mapped until this returns.
        nonisolated(unsafe) let source = source
        digests.withUnsafeMutableBufferPointer { manifest in
            // Each index is written by the one worker whose batch holds it, and runWorkers returns only
            // when all are done: the writes never meet, which the compiler cannot see through a pointer.
            nonisolated(unsafe) let manifest = manifest
            runWorkers(min(storeWorkerCount, max(1, (count + Self.batchChunks - 1) / Self.batchChunks))) { _ in
                let input = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.batchChunks * chunkSize, alignment: 4096)
                let scratch = UnsafeMutableRawBufferPointer.allocate(
                    byteCount: Self.batchChunks * Self.scratchSize(chunkSize), alignment: 16)
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
                        let bytes = UnsafeMutableRawBufferPointer(rebasing: input[0..<Int(end - start)])
                        let shared = try source.fill(bytes, at: start)
                        timings.readNanos += lap(&clock)
                        var candidates: [(index: Int, digest: ChunkDigest)] = []
                        for index in range where knownDigests?[index - range.lowerBound] == nil {
                            let offset = (index - range.lowerBound) * chunkSize
                            let window = offset..<min(bytes.count, offset + chunkSize)
                            if let shared {
                                // A chunk seen as zero in place is stored as nothing, so that look cannot
                                // disagree with a stored byte; any other chunk is copied once, and only the
                                // copy is looked at from here on.
                                let inPlace = UnsafeRawBufferPointer(rebasing: shared[window])
                                if isAllZero(inPlace) {
                                    local.zeroChunks += 1
                                    timings.zeroCheckNanos += lap(&clock)
                                    continue
                                }
                                timings.zeroCheckNanos += lap(&clock)
                                UnsafeMutableRawBufferPointer(rebasing: bytes[window]).copyMemory(from: inPlace)
                                timings.readNanos += lap(&clock)
                            }
                            let chunk = UnsafeRawBufferPointer(rebasing: bytes[window])
                            if isAllZero(chunk) {
                                local.zeroChunks += 1
                                timings.zeroCheckNanos += lap(&clock)
                                continue
                            }
                            timings.zeroCheckNanos += lap(&clock)
                            let digest = namer.digest(of: chunk)
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
        return IngestResult(
            manifest: root, logicalBytes: length, chunkCount: count, zeroChunks: counts.zeroChunks,
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
