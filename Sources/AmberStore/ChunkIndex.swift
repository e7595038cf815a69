import AmberModel

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
