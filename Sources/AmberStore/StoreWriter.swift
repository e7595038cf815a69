import AmberModel
import AmberSystem
import Dispatch
import Foundation
import Glibc
import Synchronization

/// What a sealed writer stored, for the caller to commit in one catalog transaction.
public struct WriteCommit: Sendable {
    public var newChunks: [StoredChunk]
    /// Every pack this writer appended to, with its new committed length.
    public var packs: [PackExtent]

    public var storedBytes: UInt64 { newChunks.reduce(0) { $0 + UInt64($1.location.recordLength) } }
}

/// A pack this writer holds the lock of and appends to (how far it has reserved is the writer's state).
final class PackAppender: Sendable {
    let name: String
    let path: String
    let file: FileDescriptor
    let lock: FileLock
    /// The committed length when this writer took the pack: a rollback cuts back to it.
    let startLength: UInt64
    let isNew: Bool

    init(name: String, path: String, lock: FileLock, startLength: UInt64, isNew: Bool) {
        self.name = name
        self.path = path
        self.file = lock.descriptor
        self.lock = lock
        self.startLength = startLength
        self.isNew = isNew
    }
}

/// Appends chunks to packs, inside `ChunkStore.write`: store (`put`, `ingest`), then (done there) `seal()`
/// (data durable), the caller's commit of the returned `WriteCommit` to the catalog, and `finish(committed:)`.
/// Until `finish`, the writer holds
/// the store lease (gc waits) and its packs' locks (no other writer cuts them back to their committed
/// length while this writer's records are not yet committed).
public final class StoreWriter: Sendable {
    public let store: ChunkStore
    let index: ChunkIndex
    private let reusesPacks: Bool
    /// Decodes delta bases while new chunks are being stored.
    let reader: ChunkReader

    private struct State {
        var lease: FileLock?
        /// The packs appended to, each with the length reserved in it so far; the last is the one
        /// appended to now.
        var packs: [(appender: PackAppender, length: UInt64)] = []
        var claimed: Set<ChunkDigest> = []
        var written: [StoredChunk] = []
        var timings = IngestTimings()
        var deltaMaxChangedFraction = 0.5
    }

    private let state: Mutex<State>

    /// A new chunk is stored as a delta on its base only when at most this fraction of its pages
    /// differ; more changed pages save little and lengthen restores. Chosen from the churn benchmark
    /// (BENCHMARKS.md, "Delta chunks").
    public var deltaMaxChangedFraction: Double {
        get { state.withLock { $0.deltaMaxChangedFraction } }
        set { state.withLock { $0.deltaMaxChangedFraction = newValue } }
    }

    init(store: ChunkStore, index: ChunkIndex) throws {
        self.store = store
        self.index = index
        state = Mutex(State(lease: try store.lease(.shared)))
        reusesPacks = true
        reader = ChunkReader(store: store, index: index)
    }

    /// A writer for gc, which already holds the store lease exclusively and is emptying old packs:
    /// it writes only to packs it creates.
    init(store: ChunkStore, index: ChunkIndex, exclusiveLease: FileLock) {
        self.store = store
        self.index = index
        state = Mutex(State(lease: exclusiveLease))
        reusesPacks = false
        reader = ChunkReader(store: store, index: index)
    }

    /// Stores one chunk (any length up to 16 MiB) unless it is zero or already stored; returns its digest.
    /// `bytes` are read more than once (hashed, then compressed): they must be private to the caller,
    /// not memory someone else may write meanwhile (see `IngestSource`).
    /// A new chunk is stored as a delta on `deltaBase` (the same chunk of an earlier version of the
    /// image) when few enough of its pages differ from it.
    public func put(_ bytes: UnsafeRawBufferPointer, deltaBase: ChunkDigest? = nil) throws -> ChunkDigest {
        guard bytes.count <= PackFormat.maxRecordPayload else { throw StoreError.chunkTooLarge(bytes.count) }
        if bytes.count == 0 || isAllZero(bytes) { return .zero }
        let digest = store.namer.digest(of: bytes)
        if try index.storedDigests(among: [digest]).isEmpty, claim([digest]).contains(digest) {
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: Self.scratchSize(bytes.count), alignment: 16)
            let base = deltaBase.flatMap { $0.isZero || $0 == digest ? nil : $0 }
            let delta = try base.map { try DeltaScratch(chunkSize: bytes.count, bases: [$0], reader: reader) }
            defer { scratch.deallocate() }
            var timings = IngestTimings()
            _ = try storeNew([(digest, bytes, base)], scratch: scratch, delta: delta, timings: &timings)
        }
        return digest
    }

    public func put(_ bytes: [UInt8]) throws -> ChunkDigest {
        try bytes.withUnsafeBytes { try put($0) }
    }

    /// Appends an already encoded record (gc moving a live chunk out of a sparse pack), unconditionally.
    /// `base` is a delta record's base as the index has it; in a plain store it may be left out and is read
    /// from the payload (a sealed payload does not show it).
    public func appendRecord(_ header: PackRecordHeader, payload: UnsafeRawBufferPointer, base knownBase: ChunkDigest? = nil) throws {
        let record = UnsafeMutableRawBufferPointer.allocate(byteCount: header.recordLength, alignment: 16)
        defer { record.deallocate() }
        (record.baseAddress! + PackFormat.recordHeaderSize).copyMemory(from: payload.baseAddress!, byteCount: payload.count)
        header.encode(into: record.baseAddress!)
        var timings = IngestTimings()
        let base =
            header.codec != .delta
            ? nil
            : knownBase
                ?? (store.isEncrypted || payload.count < 32
                    ? nil
                    : ChunkDigest(bytes: UnsafeRawBufferPointer(rebasing: payload[0..<32])))
        _ = try append([UnsafeRawBufferPointer(record)], headers: [header], bases: [base], timings: &timings)
    }

    /// Makes everything written durable (fsync of each pack and of the packs directory) and returns what
    /// to commit. Call once, after the last store.
    func seal() throws -> WriteCommit {
        try state.withLock { state in
            for (appender, _) in state.packs {
                do { try appender.file.sync() } catch { throw StoreError.from(error, path: appender.path) }
            }
            if state.packs.contains(where: \.appender.isNew) {
                try syncDirectory(containing: store.packPath("any"))
            }
            return WriteCommit(newChunks: state.written, packs: state.packs.map { PackExtent(name: $0.appender.name, length: $0.length) })
        }
    }

    /// Releases the locks. When the caller did not commit, first cuts the packs back to what they held
    /// (and removes packs this writer created), so a failed write gives its space back at once.
    func finish(committed: Bool) {
        state.withLock { state in
            if !committed {
                for (appender, _) in state.packs {
                    if appender.isNew {
                        unlink(appender.path)
                    } else {
                        try? appender.file.truncate(to: appender.startLength)
                    }
                }
            }
            state.packs = []
            state.lease = nil
        }
    }

    /// Pack bytes this writer added so far: what everything it stored costs the store.
    public var storedBytes: UInt64 {
        state.withLock { $0.written.reduce(0) { $0 + UInt64($1.location.recordLength) } }
    }

    /// Where time went in this writer's ingests so far (summed over worker threads).
    public var timings: IngestTimings {
        state.withLock { $0.timings }
    }

    // MARK: - Shared by ingest workers

    /// Room for one record of a chunk of `chunkSize` bytes, whichever codec it ends up with, sealed or not.
    static func scratchSize(_ chunkSize: Int) -> Int {
        PackFormat.recordHeaderSize + DeltaRecord.prefixSize(chunkSize) + max(chunkSize, ChunkCodec.compressionBound(chunkSize))
            + PayloadSealer.overhead
    }

    /// Marks `digests` as being stored by this writer; returns those no one in this writer claimed before.
    func claim(_ digests: [ChunkDigest]) -> Set<ChunkDigest> {
        state.withLock { state in
            var fresh = Set<ChunkDigest>()
            for digest in digests where state.claimed.insert(digest).inserted {
                fresh.insert(digest)
            }
            return fresh
        }
    }

    func addTimings(_ timings: IngestTimings) {
        state.withLock { $0.timings += timings }
    }

    /// Encodes (as a delta on its base when given and worth it, else LZ4 or raw) new chunks and appends
    /// their records with one pwritev. `scratch` holds `scratchSize` bytes per chunk; it takes each
    /// record's header and encoded payload, while a chunk LZ4 cannot shrink is written from where it
    /// is, without a copy. `delta` (needed only when some chunk has a base) holds the buffers a
    /// delta is worked out in. Returns the records' total length and how many are deltas.
    func storeNew(
        _ chunks: [(digest: ChunkDigest, bytes: UnsafeRawBufferPointer, base: ChunkDigest?)],
        scratch: UnsafeMutableRawBufferPointer, delta: DeltaScratch?,
        timings: inout IngestTimings
    ) throws -> (length: Int, deltas: Int) {
        let start = monotonicNanos()
        let deltaNanosBefore = timings.deltaNanos
        var pieces: [UnsafeRawBufferPointer] = []
        var headers: [PackRecordHeader] = []
        var bases: [ChunkDigest?] = []
        var used = 0
        func add(_ piece: UnsafeRawBufferPointer) {
            if let last = pieces.last, last.baseAddress! + last.count == piece.baseAddress! {
                pieces[pieces.count - 1] = UnsafeRawBufferPointer(start: last.baseAddress, count: last.count + piece.count)
            } else {
                pieces.append(piece)
            }
        }
        let sealer = store.payloadSealer
        let overhead = store.sealOverhead
        var sealNanos: UInt64 = 0
        for (digest, bytes, base) in chunks {
            let record = scratch.baseAddress! + used
            let payload = UnsafeMutableRawBufferPointer(rebasing: scratch[(used + PackFormat.recordHeaderSize)...])
            let codec: ChunkCodec
            let encoded: Int
            var deltaBase: ChunkDigest?
            if let base, let delta, let length = encodeDelta(bytes, on: base, buffers: delta, into: payload, timings: &timings) {
                (codec, encoded, deltaBase) = (.delta, length, base)
            } else {
                let (chosen, compressed) = ChunkCodec.compress(bytes, into: payload)
                (codec, encoded) = (chosen, chosen == .raw ? bytes.count : compressed)
            }
            let header = PackRecordHeader(codec: codec, rawLength: bytes.count, storedLength: encoded + overhead, digest: digest)
            header.encode(into: record)
            if let sealer {
                // The header is encoded first: its bytes (sealed length included) are the seal's additional data.
                let plaintext = codec == .raw ? bytes : UnsafeRawBufferPointer(rebasing: payload[0..<encoded])
                let sealStart = monotonicNanos()
                _ = sealer.seal(
                    plaintext, authenticating: UnsafeRawBufferPointer(start: record, count: PackFormat.sealedHeaderBytes),
                    into: payload)
                sealNanos += monotonicNanos() - sealStart
                add(UnsafeRawBufferPointer(start: record, count: header.recordLength))
                used += header.recordLength
            } else if codec == .raw {
                add(UnsafeRawBufferPointer(start: record, count: PackFormat.recordHeaderSize))
                add(bytes)
                used += PackFormat.recordHeaderSize
            } else {
                add(UnsafeRawBufferPointer(start: record, count: header.recordLength))
                used += header.recordLength
            }
            headers.append(header)
            bases.append(deltaBase)
        }
        timings.compressNanos += monotonicNanos() - start - (timings.deltaNanos - deltaNanosBefore) - sealNanos
        timings.sealNanos += sealNanos
        let length = try append(pieces, headers: headers, bases: bases, timings: &timings)
        return (length, bases.count { $0 != nil })
    }

    /// The delta payload of `bytes` on `base`, written into `payload`; nil when a full record is the
    /// better choice: the base is unreadable, of another length, at the end of a chain already
    /// `DeltaRecord.maxChainDepth` long, or too many pages differ.
    private func encodeDelta(
        _ bytes: UnsafeRawBufferPointer, on base: ChunkDigest, buffers: DeltaScratch,
        into payload: UnsafeMutableRawBufferPointer, timings: inout IngestTimings
    ) -> Int? {
        let start = monotonicNanos()
        defer { timings.deltaNanos += monotonicNanos() - start }
        guard bytes.count <= buffers.chunkSize, let location = buffers.baseLocations[base], location.rawLength == bytes.count else {
            return nil
        }
        let baseBytes = UnsafeMutableRawBufferPointer(rebasing: buffers.base[0..<bytes.count])
        // The base is decoded but not re-hashed: the delta is worked out against exactly the bytes its
        // record decodes to, which is what every read rebuilds it from, and every read checks the
        // rebuilt chunk's SHA-256. A base that does not decode gives a full chunk.
        var readTimings = MaterializeTimings()
        guard
            let depth = try? reader.decode(
                base, at: location, into: baseBytes, scratch: buffers.record, timings: &readTimings,
                level: 0, bases: buffers.baseLocations),
            depth < DeltaRecord.maxChainDepth
        else { return nil }
        let pageLimit = Int(Double(DeltaRecord.pageCount(bytes.count)) * deltaMaxChangedFraction)
        return DeltaRecord.encode(
            bytes, base: UnsafeRawBufferPointer(baseBytes), baseDigest: base, pageLimit: pageLimit,
            gather: buffers.gather, into: payload)
    }

    /// Appends records whose bytes are `pieces` in order (a record may span pieces) with one pwritev.
    private func append(
        _ pieces: [UnsafeRawBufferPointer], headers: [PackRecordHeader], bases: [ChunkDigest?],
        timings: inout IngestTimings
    ) throws -> Int {
        let start = monotonicNanos()
        let total = headers.reduce(0) { $0 + $1.recordLength }
        let (appender, offset) = try reserve(total)
        do {
            try appender.file.write(pieces, at: offset)
        } catch {
            throw StoreError.from(error, path: appender.path)
        }
        var position = offset
        let stored = zip(headers, bases).map { header, base in
            defer { position += UInt64(header.recordLength) }
            return StoredChunk(
                digest: header.digest,
                location: ChunkLocation(
                    pack: appender.name, offset: position, storedLength: header.storedLength,
                    rawLength: header.rawLength, codec: header.codec, base: base))
        }
        state.withLock { $0.written.append(contentsOf: stored) }
        timings.writeNanos += monotonicNanos() - start
        return total
    }

    /// Reserves `length` bytes at the end of the current pack, moving to another pack when it is full.
    private func reserve(_ length: Int) throws -> (PackAppender, UInt64) {
        try state.withLock { state in
            if let last = state.packs.last,
                last.length + UInt64(length) <= store.packTarget || last.length == UInt64(PackFormat.fileHeaderSize)
            {
                state.packs[state.packs.count - 1].length += UInt64(length)
                return (last.appender, last.length)
            }
            if let full = state.packs.last?.appender {
                // Start the full pack's writeback now, overlapping the disk with the hashing and compressing
                // still to come; `seal` fsyncs every pack again, so this is only ever a head start.
                DispatchQueue.global(qos: .utility).async { try? full.file.sync() }
            }
            let pack = try (state.packs.isEmpty && reusesPacks ? reusablePack() : nil) ?? newPack()
            let offset = pack.isNew ? UInt64(PackFormat.fileHeaderSize) : pack.startLength
            state.packs.append((pack, offset + UInt64(length)))
            return (pack, offset)
        }
    }

    /// A committed pack with room left that no other writer holds, cut back to its committed length
    /// (dropping bytes a crashed writer left behind). Filling packs up keeps small snapshots from each
    /// leaving a small file.
    private func reusablePack() throws -> PackAppender? {
        let candidates = try index.packExtents()
            .filter { $0.length < store.packTarget * 3 / 4 }
            .sorted { $0.length > $1.length }
        for candidate in candidates {
            let path = store.packPath(candidate.name)
            guard let file = try? FileDescriptor.open(path, O_RDWR), let lock = FileLock(tryingExclusive: file) else { continue }
            // Another writer may have committed more while we were picking; read the length again under the lock.
            guard let committed = try index.packExtents().first(where: { $0.name == candidate.name })?.length,
                let size = try? file.size(), size >= committed
            else { continue }
            // Cutting the pack back to a committed length that is short of its committed records (a
            // damaged index) would destroy them.
            let recordsEnd = try index.recordsEnd(inPack: candidate.name)
            guard committed >= recordsEnd else {
                throw StoreError.badIndexRow(
                    what: "pack \(candidate.name)",
                    reason: "committed length \(committed) is short of its records, which end at \(recordsEnd)")
            }
            if size > committed { try file.truncate(to: committed) }
            return PackAppender(name: candidate.name, path: path, lock: lock, startLength: committed, isNew: false)
        }
        return nil
    }

    private func newPack() throws -> PackAppender {
        while true {
            let name = String(format: "%016llx", UInt64.random(in: 1...UInt64.max))
            let path = store.packPath(name)
            let mode = GroupReadable.fileMode(forPath: path)
            let fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode)
            if fd < 0 {
                if errno == EEXIST { continue }
                throw StoreError.from(SystemError("create pack \(path)"), path: path)
            }
            GroupReadable.settle(fd, mode)
            let file = FileDescriptor(owning: fd)
            guard let lock = FileLock(tryingExclusive: file) else { continue }
            let appender = PackAppender(name: name, path: path, lock: lock, startLength: 0, isNew: true)
            do {
                try PackFormat.fileHeader().withUnsafeBytes { try file.write($0, at: 0) }
            } catch {
                unlink(path)
                throw StoreError.from(error, path: path)
            }
            return appender
        }
    }
}

/// One ingest worker's buffers for working out deltas: the rebuilt base, the changed pages gathered
/// before compression, the base's record, and where the current batch's bases and their chains are.
final class DeltaScratch {
    let chunkSize: Int
    let base: UnsafeMutableRawBufferPointer
    let gather: UnsafeMutableRawBufferPointer
    let record: UnsafeMutableRawBufferPointer
    var baseLocations: [ChunkDigest: ChunkLocation] = [:]

    convenience init(chunkSize: Int, bases: [ChunkDigest], reader: ChunkReader) throws {
        self.init(chunkSize: chunkSize)
        try lookUp(bases, reader: reader)
    }

    /// Looks up where `bases` and everything their chains need are, in a few batched index queries.
    func lookUp(_ bases: [ChunkDigest], reader: ChunkReader) throws {
        baseLocations = bases.isEmpty ? [:] : try reader.withDeltaBaseLocations(try reader.index.locations(of: bases))
    }

    init(chunkSize: Int) {
        self.chunkSize = chunkSize
        base = .allocate(byteCount: chunkSize, alignment: 16)
        gather = .allocate(byteCount: chunkSize, alignment: 16)
        record = .allocate(byteCount: StoreWriter.scratchSize(chunkSize), alignment: 16)
    }

    deinit {
        base.deallocate()
        gather.deallocate()
        record.deallocate()
    }
}

/// True when every byte is zero. The overlapping memcmp lets glibc's vectorised compare do the work.
@inline(__always) func isAllZero(_ bytes: UnsafeRawBufferPointer) -> Bool {
    let count = bytes.count
    guard let base = bytes.baseAddress else { return true }
    if count < 16 { return bytes.allSatisfy { $0 == 0 } }
    if base.loadUnaligned(as: UInt64.self) != 0 || base.loadUnaligned(fromByteOffset: 8, as: UInt64.self) != 0 { return false }
    return memcmp(base, base + 16, count - 16) == 0
}
