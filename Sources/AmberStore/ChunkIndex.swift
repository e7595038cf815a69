/// Where a stored chunk's record lives.
public struct ChunkLocation: Hashable, Sendable {
    public var pack: String
    public var offset: UInt64
    public var storedLength: Int
    public var rawLength: Int
    public var codec: ChunkCodec
    /// The chunk a delta record is rebuilt from (nil for raw and LZ4 records): gc keeps it alive as
    /// long as this chunk is.
    public var base: ChunkDigest?

    public init(pack: String, offset: UInt64, storedLength: Int, rawLength: Int, codec: ChunkCodec, base: ChunkDigest? = nil) {
        self.pack = pack
        self.offset = offset
        self.storedLength = storedLength
        self.rawLength = rawLength
        self.codec = codec
        self.base = base
    }

    /// Bytes the record takes in its pack, header included.
    public var recordLength: Int { PackFormat.recordHeaderSize + storedLength }
}

public struct StoredChunk: Hashable, Sendable {
    public var digest: ChunkDigest
    public var location: ChunkLocation

    public init(digest: ChunkDigest, location: ChunkLocation) {
        self.digest = digest
        self.location = location
    }
}

/// A pack and how many of its bytes are committed (everything past that is left-over from a writer
/// that never committed, and may be cut off).
public struct PackExtent: Hashable, Sendable {
    public var name: String
    public var length: UInt64

    public init(name: String, length: UInt64) {
        self.name = name
        self.length = length
    }
}

/// What the store needs to know about committed chunks. The catalog provides it in production; the
/// store's own `InMemoryChunkIndex` provides it when rebuilding from packs. Called from several
/// worker threads at once, in batches, so that one lookup costs one round trip per batch.
public protocol ChunkIndex: AnyObject, Sendable {
    /// Those of `digests` that are committed.
    func storedDigests(among digests: [ChunkDigest]) throws -> Set<ChunkDigest>
    /// Locations of those of `digests` that are committed.
    func locations(of digests: [ChunkDigest]) throws -> [ChunkDigest: ChunkLocation]
    /// Every pack with its committed length.
    func packExtents() throws -> [PackExtent]
    /// Where the last committed record of pack `name` ends (0 when it holds none).
    func recordsEnd(inPack name: String) throws -> UInt64
}

extension ChunkLocation {
    /// Why this location, read from an index kept outside the packs (the catalog), cannot be a record's,
    /// or nil when it can be: readers size buffers and compute file offsets from these numbers. Whether
    /// the record really is there is found when it is read.
    public var impossibility: String? {
        guard PackFormat.lengthsArePossibleInAnyStore(codec: codec, rawLength: rawLength, storedLength: storedLength) else {
            return "\(codec) record of \(rawLength) bytes stored in \(storedLength)"
        }
        guard offset >= UInt64(PackFormat.fileHeaderSize) else { return "offset \(offset) is inside the pack's file header" }
        let (end, overflow) = offset.addingReportingOverflow(UInt64(recordLength))
        guard !overflow, end <= UInt64(Int64.max) else { return "offset \(offset) is past the end of any file" }
        return nil
    }
}
