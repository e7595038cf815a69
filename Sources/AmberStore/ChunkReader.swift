import AmberModel
import AmberSystem
import Foundation
import Glibc
import Synchronization

/// Reads chunks back, checking every one against its digest: a reader never hands out wrong bytes.
public final class ChunkReader: Sendable {
    public let store: ChunkStore
    let index: ChunkIndex
    private struct State {
        var openPacks: [String: FileDescriptor] = [:]
        var timings = MaterializeTimings()
    }

    private let state = Mutex(State())

    public init(store: ChunkStore, index: ChunkIndex) {
        self.store = store
        self.index = index
    }

    /// The bytes of one chunk (`.zero` has no length of its own and is refused: callers know its size).
    public func chunk(_ digest: ChunkDigest) throws -> [UInt8] {
        try withRelocation(digest) { location in
            var bytes = [UInt8](repeating: 0, count: location.rawLength)
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: location.recordLength, alignment: 16)
            defer { scratch.deallocate() }
            _ = try bytes.withUnsafeMutableBytes { try read(digest, at: location, into: $0, scratch: scratch) }
            return bytes
        }
    }

    /// Where this reader's materializes spent their time so far.
    public var materializeTimings: MaterializeTimings {
        state.withLock { $0.timings }
    }

    func addMaterializeTimings(_ timings: MaterializeTimings) {
        state.withLock { $0.timings += timings }
    }

    public func location(of digest: ChunkDigest) throws -> ChunkLocation {
        guard let location = try index.locations(of: [digest])[digest] else { throw StoreError.missingChunk(digest) }
        return location
    }

    /// Runs `body` with the chunk's location, looking it up once more if its pack vanished meanwhile
    /// (gc moved the chunk to a new pack between the lookup and the read).
    func withRelocation<T>(_ digest: ChunkDigest, _ body: (ChunkLocation) throws -> T) throws -> T {
        guard !digest.isZero else { throw StoreError.missingChunk(digest) }
        do {
            return try body(try location(of: digest))
        } catch StoreError.missingPack {
            state.withLock { $0.openPacks = [:] }
            return try body(try location(of: digest))
        }
    }

    /// Reads the record at `location`, decodes it into `destination` (exactly its raw length) and checks
    /// that it is `digest`. `scratch` holds at least `location.recordLength` bytes.
    @discardableResult
    func read(
        _ digest: ChunkDigest, at location: ChunkLocation, into destination: UnsafeMutableRawBufferPointer,
        scratch: UnsafeMutableRawBufferPointer
    ) throws -> Int {
        var timings = MaterializeTimings()
        return try read(digest, at: location, into: destination, scratch: scratch, timings: &timings)
    }

    /// The same, adding where the time went to `timings`; returns the chunk's delta chain depth (0 for
    /// a raw or LZ4 record). A raw record's payload is read straight into `destination` (its header into
    /// `scratch`); an LZ4 record is read into `scratch` and decoded into `destination`; a delta record
    /// rebuilds its base into `destination` and lays its pages over it. Only the finished chunk is
    /// hashed: a chain costs one SHA-256, and the bases are hashed one by one only to name the bad one.
    /// `bases` holds locations of delta bases looked up ahead (`withDeltaBaseLocations`); others are
    /// looked up one at a time.
    @discardableResult
    func read(
        _ digest: ChunkDigest, at location: ChunkLocation, into destination: UnsafeMutableRawBufferPointer,
        scratch: UnsafeMutableRawBufferPointer, timings: inout MaterializeTimings,
        bases: [ChunkDigest: ChunkLocation] = [:]
    ) throws -> Int {
        let depth = try decode(digest, at: location, into: destination, scratch: scratch, timings: &timings, level: 0, bases: bases)
        var clock = monotonicNanos()
        let namer = store.namer
        guard namer.digest(of: UnsafeRawBufferPointer(destination)) == digest else {
            if location.codec == .delta { try diagnoseBase(of: digest, at: location) }
            throw corrupt(digest, location, "content does not match its \(namer.digestName)")
        }
        timings.hashNanos += lap(&clock)
        return depth
    }

    /// Decodes the record at `location` into `destination` without checking the result's digest;
    /// `level` counts the delta records above this one in the chain being rebuilt.
    func decode(
        _ digest: ChunkDigest, at location: ChunkLocation, into destination: UnsafeMutableRawBufferPointer,
        scratch: UnsafeMutableRawBufferPointer, timings: inout MaterializeTimings, level: Int,
        bases: [ChunkDigest: ChunkLocation]
    ) throws -> Int {
        guard destination.count == location.rawLength else {
            throw corrupt(digest, location, "holds \(location.rawLength) bytes, expected \(destination.count)")
        }
        guard location.recordLength <= scratch.count || location.codec == .delta,
            location.codec != .raw || location.storedLength == location.rawLength + store.sealOverhead
        else {
            throw corrupt(digest, location, "impossible record lengths in the index")
        }
        var clock = monotonicNanos()
        switch location.codec {
        case .raw:
            _ = try readRecord(digest, at: location, into: scratch, payloadInto: destination)
            timings.readNanos += lap(&clock)
            return 0
        case .lz4:
            let length = try readRecord(digest, at: location, into: scratch, payloadInto: nil)
            timings.readNanos += lap(&clock)
            let payload = UnsafeRawBufferPointer(rebasing: scratch[PackFormat.recordHeaderSize..<(PackFormat.recordHeaderSize + length)])
            guard ChunkCodec.decompress(payload, into: destination) else { throw corrupt(digest, location, "LZ4 data does not decode") }
            timings.decodeNanos += lap(&clock)
            return 0
        case .delta:
            return try decodeDelta(digest, at: location, into: destination, timings: &timings, level: level, bases: bases)
        }
    }

    /// Reads and checks a record's header into `scratch`, and its payload after it, or into `payload`
    /// when given (one preadv, no copy through `scratch`). Returns the payload's length. In an encrypted store
    /// the whole record is read into `scratch` (which holds `location.recordLength` bytes) and its payload
    /// opened, into `payload` or over the sealed bytes in `scratch` (unless `opening` is false: gc copies
    /// records as they are); a payload that does not open is a corrupt chunk, as a bad digest is.
    @discardableResult
    func readRecord(
        _ digest: ChunkDigest, at location: ChunkLocation, into scratch: UnsafeMutableRawBufferPointer,
        payloadInto payload: UnsafeMutableRawBufferPointer? = nil, opening: Bool = true
    ) throws -> Int {
        let file = try pack(location.pack)
        let sealer = store.payloadSealer
        let count: Int
        if let payload, sealer == nil {
            let head = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<PackFormat.recordHeaderSize])
            count = try file.read(into: [head, payload], at: location.offset)
        } else {
            guard location.recordLength <= scratch.count else { throw corrupt(digest, location, "impossible record lengths in the index") }
            count = try file.read(into: UnsafeMutableRawBufferPointer(rebasing: scratch[0..<location.recordLength]), at: location.offset)
        }
        guard count == location.recordLength else { throw corrupt(digest, location, "pack ends inside the record") }
        let header: PackRecordHeader
        switch PackRecordHeader.decode(
            UnsafeRawBufferPointer(rebasing: scratch[0..<PackFormat.recordHeaderSize]), sealOverhead: store.sealOverhead)
        {
        case .success(let decoded): header = decoded
        case .failure(let defect): throw corrupt(digest, location, defect.description)
        }
        guard header.digest == digest, header.storedLength == location.storedLength, header.rawLength == location.rawLength,
            header.codec == location.codec
        else {
            throw corrupt(digest, location, "record header does not match the index")
        }
        guard let sealer, opening else { return header.storedLength }
        let sealed = UnsafeRawBufferPointer(rebasing: scratch[PackFormat.recordHeaderSize..<header.recordLength])
        // Opened in place when there is no separate payload buffer: the plaintext lands where the sealed bytes began.
        let target = payload ?? UnsafeMutableRawBufferPointer(rebasing: scratch[PackFormat.recordHeaderSize...])
        let plainCount = sealed.count - PayloadSealer.overhead
        guard plainCount >= 0, payload == nil ? plainCount <= target.count : plainCount == target.count else {
            throw corrupt(digest, location, "opened payload has the wrong length")
        }
        guard
            let opened = sealer.open(
                sealed, authenticating: UnsafeRawBufferPointer(rebasing: scratch[0..<PackFormat.sealedHeaderBytes]),
                into: target)
        else {
            throw corrupt(digest, location, "payload does not open with the store's key (damaged, or under another record's header)")
        }
        return opened
    }

    /// A record exactly as stored (header and encoded payload, still sealed in an encrypted store), after
    /// checking it decodes to `digest`: what gc copies into a new pack.
    public func verifiedRecord(_ digest: ChunkDigest, at location: ChunkLocation) throws -> (PackRecordHeader, [UInt8]) {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: location.recordLength, alignment: 16)
        let decoded = UnsafeMutableRawBufferPointer.allocate(byteCount: location.rawLength, alignment: 16)
        defer { scratch.deallocate(); decoded.deallocate() }
        try read(digest, at: location, into: decoded, scratch: scratch)
        let length = try readRecord(digest, at: location, into: scratch, opening: false)
        let header = PackRecordHeader(codec: location.codec, rawLength: location.rawLength, storedLength: length, digest: digest)
        return (header, Array(scratch[PackFormat.recordHeaderSize..<header.recordLength]))
    }

    func pack(_ name: String) throws -> FileDescriptor {
        try state.withLock { state in
            if let file = state.openPacks[name] { return file }
            do {
                let file = try FileDescriptor.open(store.packPath(name), O_RDONLY)
                state.openPacks[name] = file
                return file
            } catch let error as SystemError where error.errno == ENOENT {
                throw StoreError.missingPack(name: name)
            }
        }
    }

    func corrupt(_ digest: ChunkDigest, _ location: ChunkLocation, _ reason: String) -> StoreError {
        .corruptChunk(digest: digest, pack: location.pack, offset: location.offset, reason: reason)
    }
}
