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

    /// Bytes of a pack record's header (AmberStore's `PackFormat` has its layout). The catalog counts a
    /// chunk's cost in its pack with it too.
    public static let recordHeaderSize = 56

    /// Bytes the record takes in its pack, header included.
    public var recordLength: Int { Self.recordHeaderSize + storedLength }
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
