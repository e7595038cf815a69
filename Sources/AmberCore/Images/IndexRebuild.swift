import AmberCatalog
import AmberModel
import AmberStore

/// What `amber store rebuild-index` found in the packs.
public struct IndexRebuildReport: Sendable, Codable {
    public var packs: Int
    public var chunks: Int
    /// Records whose payload no longer matches their digest (left out of the index).
    public var damagedRecords: Int
    /// Packs whose end held bytes that are not whole records (a writer died mid-write).
    public var tornPacks: [String]
}

extension StoreContext {
    /// Rebuilds the catalog's chunk and pack tables from the pack files alone, checking every record.
    /// Delta records are checked once every pack is scanned (their base may be in any pack), and keep
    /// the base their record names. Images and snapshots are kept; `verify` then tells whether all they
    /// reference was found.
    public func rebuildIndex() throws -> IndexRebuildReport {
        let lease = try store.lease(.exclusive)
        defer { withExtendedLifetime(lease) {} }
        let scanned = try scanPacksForIndex()
        try catalog.write { try $0.replaceChunkIndex(chunks: scanned.chunks, packs: scanned.packs) }
        return scanned.report
    }

    /// Reads every pack (the caller holds the store lease exclusively) and returns the index they make.
    func scanPacksForIndex(progress: ProgressReport? = nil) throws
        -> (chunks: [StoredChunk], packs: [PackExtent], report: IndexRebuildReport)
    {
        let reader = self.reader
        var chunks: [ChunkDigest: StoredChunk] = [:]
        var packs: [PackExtent] = []
        var damaged = 0
        var torn: [String] = []
        let names = try store.packFileNames()
        for (done, name) in names.enumerated() {
            progress?(UInt64(done), UInt64(names.count))
            let scan = try reader.scanPack(name)
            guard scan.validLength > 0 else { continue }
            for record in scan.records where chunks[record.digest] == nil {
                chunks[record.digest] = record
            }
            damaged += scan.damaged.count
            if scan.validLength < scan.fileLength { torn.append(name) }
            packs.append(PackExtent(name: name, length: scan.validLength))
        }
        let badDeltas = Set(reader.checkDeltas(Array(chunks.values)).map(\.digest))
        damaged += badDeltas.count
        let records = chunks.values.filter { !badDeltas.contains($0.digest) }
        return (records, packs, IndexRebuildReport(packs: packs.count, chunks: records.count, damagedRecords: damaged, tornPacks: torn))
    }
}
