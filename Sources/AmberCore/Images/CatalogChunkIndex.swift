import AmberCatalog
import AmberModel
import AmberStore

/// The store's chunk index, answered by the catalog.
final class CatalogChunkIndex: ChunkIndex, Sendable {
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
            let chunk = try StoredChunk(checking: row)
            found[chunk.digest] = chunk.location
        }
        return found
    }

    func packExtents() throws -> [PackExtent] {
        try catalog.read { try $0.packs() }.map { try PackExtent(checking: $0) }
    }

    func recordsEnd(inPack name: String) throws -> UInt64 {
        // A damaged row's sum may be anything, even negative; the rows themselves are checked when read.
        UInt64(clamping: try catalog.read { try $0.recordsEnd(inPack: name) })
    }
}

/// The catalog's rows are files anyone with access can edit, and a damaged database reads back any
/// number: every row is checked before its numbers size a buffer or address a file.
extension StoredChunk {
    init(checking row: ChunkRecord) throws {
        let hex = row.digest.map { String(format: "%02x", $0) }.joined()
        func refuse(_ reason: String) -> StoreError { .badIndexRow(what: "chunk \(hex) in pack \(row.pack)", reason: reason) }
        guard let digest = ChunkDigest(bytes: row.digest) else { throw refuse("its digest is \(row.digest.count) bytes, not 32") }
        guard PackFormat.isValidName(row.pack) else { throw refuse("the pack's name is not 16 hex digits") }
        guard let codec = ChunkCodec(rawValue: UInt8(clamping: row.codec)), Int(codec.rawValue) == row.codec else {
            throw refuse("unknown codec \(row.codec)")
        }
        guard let offset = UInt64(exactly: row.offset) else { throw refuse("negative offset \(row.offset)") }
        let location = ChunkLocation(
            pack: row.pack, offset: offset, storedLength: row.storedLength, rawLength: row.rawLength,
            codec: codec, base: row.base.flatMap { ChunkDigest(bytes: $0) })
        if let impossibility = location.impossibility { throw refuse(impossibility) }
        self.init(digest: digest, location: location)
    }
}

extension PackExtent {
    init(checking row: PackRecord) throws {
        guard PackFormat.isValidName(row.name) else {
            throw StoreError.badIndexRow(what: "pack \(row.name.debugDescription)", reason: "its name is not 16 hex digits")
        }
        guard row.length >= PackFormat.fileHeaderSize else {
            throw StoreError.badIndexRow(
                what: "pack \(row.name)", reason: "committed length \(row.length) is shorter than a pack's file header")
        }
        self.init(name: row.name, length: UInt64(row.length))
    }
}

extension SQLiteConnection {
    /// Every chunk row and every pack's committed length, each row checked, and each chunk's record
    /// within its pack's committed length: gc cuts packs back to that length and deletes packs without
    /// a row, so a row that disagrees would have it destroy a live record.
    func checkedChunkIndex() throws -> (chunks: [StoredChunk], packLengths: [String: UInt64]) {
        let packLengths = Dictionary(uniqueKeysWithValues: try packs().map(PackExtent.init(checking:)).map { ($0.name, $0.length) })
        let chunks = try allChunks().map(StoredChunk.init(checking:))
        for chunk in chunks {
            let location = chunk.location
            let end = location.offset + UInt64(location.recordLength)  // cannot overflow: checked above
            guard let length = packLengths[location.pack], end <= length else {
                throw StoreError.badIndexRow(
                    what: "chunk \(chunk.digest) in pack \(location.pack)",
                    reason:
                        "its record ends at \(end), past the pack's committed length \(packLengths[location.pack].map(String.init) ?? "(no pack row)")"
                )
            }
        }
        return (chunks, packLengths)
    }
}
