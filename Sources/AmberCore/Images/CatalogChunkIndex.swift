import AmberCatalog
import AmberStore

/// The store's chunk index, answered by the catalog.
final class CatalogChunkIndex: ChunkIndex, @unchecked Sendable {
    let catalog: Catalog

    init(catalog: Catalog) {
        self.catalog = catalog
    }

    func storedDigests(among digests: [ChunkDigest]) throws -> Set<ChunkDigest> {
        let found = try catalog.read { try $0.existingDigests(among: digests.map(\.bytes)) }
        return Set(found.compactMap { ChunkDigest(bytes: $0) })
    }

    func locations(of digests: [ChunkDigest]) throws -> [ChunkDigest: ChunkLocation] {
        let rows = try catalog.read { try $0.chunks(for: digests.map(\.bytes)) }
        var found: [ChunkDigest: ChunkLocation] = [:]
        for row in rows {
            if let chunk = StoredChunk(row) { found[chunk.digest] = chunk.location }
        }
        return found
    }

    func packExtents() throws -> [PackExtent] {
        try catalog.read { try $0.packs() }.map { PackExtent(name: $0.name, length: UInt64($0.length)) }
    }
}

extension StoredChunk {
    init?(_ row: ChunkRecord) {
        guard let digest = ChunkDigest(bytes: row.digest), let codec = ChunkCodec(rawValue: UInt8(clamping: row.codec)) else { return nil }
        self.init(digest: digest, location: ChunkLocation(pack: row.pack, offset: UInt64(row.offset), storedLength: row.storedLength,
                                                          rawLength: row.rawLength, codec: codec,
                                                          base: row.base.flatMap { ChunkDigest(bytes: $0) }))
    }

    var record: ChunkRecord {
        ChunkRecord(digest: digest.bytes, pack: location.pack, offset: Int64(location.offset), storedLength: location.storedLength,
                    rawLength: location.rawLength, codec: Int(location.codec.rawValue), base: location.base?.bytes)
    }
}

extension WriteCommit {
    var packRecords: [PackRecord] { packs.map { PackRecord(name: $0.name, length: Int64($0.length)) } }
}
