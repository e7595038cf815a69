import AmberModel

/// A chunk row as read back: the catalog's copy of the store's chunk index. Its numbers are whatever the
/// database holds (a damaged or edited file reads back anything), so it stays raw here; AmberCore checks
/// each row into the model's `StoredChunk` before a number sizes a buffer or addresses a file.
public struct ChunkRecord: Hashable, Sendable {
    public var digest: [UInt8]
    public var pack: String
    public var offset: Int64
    public var storedLength: Int
    public var rawLength: Int
    public var codec: Int
    /// The digest a delta chunk is rebuilt from (nil for whole chunks): gc keeps it alive with this one.
    public var base: [UInt8]?

    public init(digest: [UInt8], pack: String, offset: Int64, storedLength: Int, rawLength: Int, codec: Int, base: [UInt8]? = nil) {
        self.digest = digest
        self.pack = pack
        self.offset = offset
        self.storedLength = storedLength
        self.rawLength = rawLength
        self.codec = codec
        self.base = base
    }
}

/// A pack row as read back, raw for the same reason as `ChunkRecord` (checked into a `PackExtent`).
public struct PackRecord: Hashable, Sendable {
    public var name: String
    public var length: Int64

    public init(name: String, length: Int64) {
        self.name = name
        self.length = length
    }
}

/// Totals over the chunk table, for `amber store stats`.
public struct ChunkTotals: Equatable, Sendable {
    public var chunks: Int
    public var rawBytes: Int64
    public var storedBytes: Int64

    public init(chunks: Int, rawBytes: Int64, storedBytes: Int64) {
        self.chunks = chunks
        self.rawBytes = rawBytes
        self.storedBytes = storedBytes
    }
}

extension SQLiteConnection {
    /// Records new chunks (a chunk another writer committed first keeps its first location) and the
    /// packs' new committed lengths.
    public func addChunks(_ chunks: [StoredChunk], packs: [PackExtent]) throws {
        for pack in packs {
            try statement(
                "INSERT INTO packs (name, length) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET length = MAX(length, excluded.length)"
            )
            .bind(.text(pack.name), .integer(Int64(pack.length))).run()
        }
        let insert = try statement(
            """
            INSERT OR IGNORE INTO chunks (digest, pack, offset, stored_length, raw_length, codec, base) VALUES (?, ?, ?, ?, ?, ?, ?)
            """)
        for chunk in chunks {
            let location = chunk.location
            try insert.bind(
                .blob(chunk.digest.bytes), .text(location.pack), .integer(Int64(location.offset)), .int(location.storedLength),
                .int(location.rawLength), .int(Int(location.codec.rawValue)), location.base.map { .blob($0.bytes) }
            ).run()
        }
    }

    /// Those of `digests` that have a chunk row.
    public func existingDigests(among digests: [[UInt8]]) throws -> Set<[UInt8]> {
        let query = try statement("SELECT 1 FROM chunks WHERE digest = ?")
        var found = Set<[UInt8]>()
        for digest in digests {
            try query.bind(.blob(digest))
            if try query.step() { found.insert(digest) }
        }
        return found
    }

    public func chunks(for digests: [[UInt8]]) throws -> [ChunkRecord] {
        let query = try statement("SELECT digest, pack, offset, stored_length, raw_length, codec, base FROM chunks WHERE digest = ?")
        var found: [ChunkRecord] = []
        for digest in digests {
            try query.bind(.blob(digest))
            if try query.step() { found.append(Self.chunkRow(query)) }
        }
        return found
    }

    public func allChunks() throws -> [ChunkRecord] {
        try statement("SELECT digest, pack, offset, stored_length, raw_length, codec, base FROM chunks ORDER BY pack, offset")
            .rows(Self.chunkRow)
    }

    public func chunkTotals() throws -> ChunkTotals {
        let row = try statement(
            "SELECT COUNT(*), COALESCE(SUM(raw_length), 0), COALESCE(SUM(stored_length + \(ChunkLocation.recordHeaderSize)), 0) FROM chunks"
        )
        _ = try row.step()
        return ChunkTotals(chunks: row.int(0), rawBytes: row.int64(1), storedBytes: row.int64(2))
    }

    public func deleteChunks(_ digests: [[UInt8]]) throws {
        let delete = try statement("DELETE FROM chunks WHERE digest = ?")
        for digest in digests { try delete.bind(.blob(digest)).run() }
    }

    /// Points existing chunks at new locations (gc moved them out of a sparse pack). A moved record is
    /// the same bytes, so a delta keeps its base.
    public func moveChunks(_ chunks: [StoredChunk]) throws {
        let update = try statement("UPDATE chunks SET pack = ?, offset = ?, stored_length = ?, raw_length = ?, codec = ? WHERE digest = ?")
        for chunk in chunks {
            let location = chunk.location
            try update.bind(
                .text(location.pack), .integer(Int64(location.offset)), .int(location.storedLength), .int(location.rawLength),
                .int(Int(location.codec.rawValue)), .blob(chunk.digest.bytes)
            ).run()
        }
    }

    public func packs() throws -> [PackRecord] {
        try statement("SELECT name, length FROM packs ORDER BY name").rows { PackRecord(name: $0.text(0), length: $0.int64(1)) }
    }

    /// Where the last record a chunk row places in pack `name` ends (0 when none does).
    public func recordsEnd(inPack name: String) throws -> Int64 {
        let row = try statement(
            "SELECT COALESCE(MAX(offset + stored_length + \(ChunkLocation.recordHeaderSize)), 0) FROM chunks WHERE pack = ?"
        ).bind(.text(name))
        _ = try row.step()
        return row.int64(0)
    }

    public func setPackLength(_ name: String, _ length: Int64) throws {
        try statement("UPDATE packs SET length = ? WHERE name = ?").bind(.integer(length), .text(name)).run()
    }

    /// Removes a pack row; its chunk rows must be gone or moved first.
    public func deletePack(_ name: String) throws {
        try statement("DELETE FROM packs WHERE name = ?").bind(.text(name)).run()
    }

    /// Replaces the whole chunk index (rebuilding it from the packs themselves).
    public func replaceChunkIndex(chunks: [StoredChunk], packs: [PackExtent]) throws {
        try execute("DELETE FROM chunks; DELETE FROM packs")
        try addChunks(chunks, packs: packs)
    }

    private static func chunkRow(_ row: SQLiteStatement) -> ChunkRecord {
        ChunkRecord(
            digest: row.blob(0), pack: row.text(1), offset: row.int64(2), storedLength: row.int(3),
            rawLength: row.int(4), codec: row.int(5), base: row.optionalBlob(6))
    }
}
