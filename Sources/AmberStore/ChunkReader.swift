import AmberSystem
import Foundation
import Glibc

/// Reads chunks back, checking every one against its digest: a reader never hands out wrong bytes.
public final class ChunkReader: @unchecked Sendable {
    public let store: ChunkStore
    let index: ChunkIndex
    private let lock = NSLock()
    private var openPacks: [String: FileDescriptor] = [:]

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
            try bytes.withUnsafeMutableBytes { try read(digest, at: location, into: $0, scratch: scratch) }
            return bytes
        }
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
            lock.lock()
            openPacks = [:]
            lock.unlock()
            return try body(try location(of: digest))
        }
    }

    /// Reads the record at `location`, decodes it into `destination` (exactly its raw length) and checks
    /// that it is `digest`. `scratch` holds at least `location.recordLength` bytes.
    func read(_ digest: ChunkDigest, at location: ChunkLocation, into destination: UnsafeMutableRawBufferPointer,
              scratch: UnsafeMutableRawBufferPointer) throws {
        let bytes = try decoded(digest, at: location, expectedLength: destination.count, decodeInto: destination, scratch: scratch)
        if bytes.baseAddress != UnsafeRawPointer(destination.baseAddress) {
            destination.baseAddress!.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count)
        }
    }

    /// Reads, decodes and checks a chunk, returning where its bytes are: inside `scratch` for a raw record
    /// (no copy), in `decodeInto` for an LZ4 one.
    func decoded(_ digest: ChunkDigest, at location: ChunkLocation, expectedLength: Int,
                 decodeInto destination: UnsafeMutableRawBufferPointer, scratch: UnsafeMutableRawBufferPointer) throws -> UnsafeRawBufferPointer {
        let header = try readRecord(digest, at: location, into: scratch)
        let payload = UnsafeRawBufferPointer(rebasing: scratch[PackFormat.recordHeaderSize..<header.recordLength])
        guard expectedLength == header.rawLength, destination.count >= header.rawLength else {
            throw corrupt(digest, location, "holds \(header.rawLength) bytes, expected \(expectedLength)")
        }
        let bytes: UnsafeRawBufferPointer
        switch header.codec {
        case .raw:
            bytes = payload
        case .lz4:
            let target = UnsafeMutableRawBufferPointer(rebasing: destination[0..<header.rawLength])
            guard ChunkCodec.decompress(payload, into: target) else { throw corrupt(digest, location, "LZ4 data does not decode") }
            bytes = UnsafeRawBufferPointer(target)
        }
        guard ChunkDigest.of(bytes) == digest else {
            throw corrupt(digest, location, "content does not match its SHA-256")
        }
        return bytes
    }

    /// Reads and checks a record's header (not its payload) into `scratch`.
    func readRecord(_ digest: ChunkDigest, at location: ChunkLocation, into scratch: UnsafeMutableRawBufferPointer) throws -> PackRecordHeader {
        let file = try pack(location.pack)
        let window = UnsafeMutableRawBufferPointer(rebasing: scratch[0..<location.recordLength])
        let count = try file.read(into: window, at: location.offset)
        guard count == location.recordLength else { throw corrupt(digest, location, "pack ends inside the record") }
        let header: PackRecordHeader
        switch PackRecordHeader.decode(UnsafeRawBufferPointer(window)) {
        case .success(let decoded): header = decoded
        case .failure(let defect): throw corrupt(digest, location, defect.description)
        }
        guard header.digest == digest, header.storedLength == location.storedLength, header.rawLength == location.rawLength,
              header.codec == location.codec else {
            throw corrupt(digest, location, "record header does not match the index")
        }
        return header
    }

    /// A record exactly as stored (header and encoded payload), after checking it decodes to `digest`:
    /// what gc copies into a new pack.
    public func verifiedRecord(_ digest: ChunkDigest, at location: ChunkLocation) throws -> (PackRecordHeader, [UInt8]) {
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: location.recordLength, alignment: 16)
        let decoded = UnsafeMutableRawBufferPointer.allocate(byteCount: location.rawLength, alignment: 16)
        defer { scratch.deallocate(); decoded.deallocate() }
        try read(digest, at: location, into: decoded, scratch: scratch)
        let header = try readRecord(digest, at: location, into: scratch)
        return (header, Array(scratch[PackFormat.recordHeaderSize..<header.recordLength]))
    }

    func pack(_ name: String) throws -> FileDescriptor {
        lock.lock()
        defer { lock.unlock() }
        if let file = openPacks[name] { return file }
        do {
            let file = try FileDescriptor.open(store.packPath(name), O_RDONLY)
            openPacks[name] = file
            return file
        } catch let error as SystemError where error.errno == ENOENT {
            throw StoreError.missingPack(name: name)
        }
    }

    func corrupt(_ digest: ChunkDigest, _ location: ChunkLocation, _ reason: String) -> StoreError {
        .corruptChunk(digest: digest, pack: location.pack, offset: location.offset, reason: reason)
    }
}
