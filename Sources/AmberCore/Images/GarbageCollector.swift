import AmberCatalog
import AmberModel
import AmberStore
import AmberSystem
import Foundation
import Glibc

/// What `amber store gc` did (or, with --dry-run, would do).
public struct GarbageCollectionReport: Sendable, Codable {
    public var dryRun: Bool
    public var liveChunks: Int
    public var deadChunks: Int
    /// Packs with nothing live, deleted outright.
    public var packsDeleted: Int
    /// Packs whose live fraction fell below the threshold: live chunks copied out, old pack deleted.
    public var packsRewritten: Int
    /// Pack files no catalog row knew (a writer died before its first commit).
    public var orphanPacks: Int
    /// Uncommitted bytes after a pack's committed length (a writer died before committing), cut off.
    public var tornTailBytes: UInt64
    public var bytesFreed: UInt64
    /// Live records in the store whose object the catalog lacks (or holds with other manifests): gc kept their
    /// chunks too; `amber store recover` gives the catalog their rows.
    public var recordsNotInCatalog: [String] = []
}

extension StoreContext {
    /// Packs where less than this fraction of the bytes is live are rewritten.
    public static let rewriteThreshold = 0.5

    /// Marks every chunk reachable from the catalog and from the store's records (a catalog that lost rows, or
    /// was replaced by an older copy, must not make gc free what the store still records), then frees the rest: dead chunk rows go, packs with
    /// nothing live are deleted, sparse packs are rewritten, torn tails and orphan packs are removed.
    /// Holds the store lease exclusively, so no writer is between finding a chunk and committing a
    /// reference to it.
    /// `waiting` is told, in one line, whom gc waits for if writers are in progress (by default on stderr).
    public func collectGarbage(dryRun: Bool, waiting: ((String) -> Void)? = nil) throws -> GarbageCollectionReport {
        let lease = try store.lease(.exclusive, waiting: waiting)
        try CrashedRecordChanges.resolve(records: store.records, catalog: catalog)
        let storeRecords = try StoreRecordSet(directory: store.records)
        let (rows, catalogRoots, agreement) = try catalog.write { db in
            (
                try db.checkedChunkIndex(), try db.manifestRoots(deletingStaleLeases: true),
                try CatalogStoreAgreement(records: storeRecords, db: db)
            )
        }
        let (chunks, committed) = (rows.chunks, rows.packLengths)
        let reader = self.reader
        guard agreement.damagedWithoutRow.isEmpty else {
            throw GarbageCollectionRefusal.damagedRecords(agreement.damagedWithoutRow.map(\.path))
        }
        let catalogRootSet = Set(catalogRoots.map(\.digest))
        let roots =
            catalogRoots
            + storeRecords.manifestRoots
            .filter { !catalogRootSet.contains($0.digest) }
            .map { ManifestRoot(digest: $0.digest, owner: "record \($0.owner)") }

        // Mark. A manifest that cannot be read stops gc: freeing on a partial mark could delete live data.
        var live = Set<ChunkDigest>()
        for root in roots {
            let tree: (manifest: Manifest, structure: [ChunkDigest])
            do {
                tree = try reader.manifestTree(root.digest)
            } catch StoreError.missingChunk where !agreement.recordsNotInCatalog.isEmpty {
                throw GarbageCollectionRefusal.catalogBehindStore(records: agreement.recordsNotInCatalog)
            } catch {
                throw StoreError.io(
                    operation: "gc: reading the manifest of \(root.owner)",
                    cause: FailureCause(
                        reason: "\(error); nothing was freed (run `amber store verify`)",
                        errno: error.underlyingErrno))
            }
            live.formUnion(tree.structure)
            live.formUnion(tree.manifest.digests)
        }
        live.remove(.zero)
        // A live delta needs its base, and that base its own, down the chain.
        live = DeltaBases(chunks).closure(of: live)
        // A chunk that records keep alive but the catalog's index does not know sits in a pack gc would take for
        // an orphan: the index is behind the store.
        if !agreement.recordsNotInCatalog.isEmpty, !live.isSubset(of: Set(chunks.map(\.digest))) {
            throw GarbageCollectionRefusal.catalogBehindStore(records: agreement.recordsNotInCatalog)
        }

        var byPack: [String: [StoredChunk]] = [:]
        for chunk in chunks { byPack[chunk.location.pack, default: []].append(chunk) }
        let dead = chunks.filter { !live.contains($0.digest) }
        var report = GarbageCollectionReport(
            dryRun: dryRun, liveChunks: chunks.count - dead.count, deadChunks: dead.count,
            packsDeleted: 0, packsRewritten: 0, orphanPacks: 0, tornTailBytes: 0, bytesFreed: 0,
            recordsNotInCatalog: agreement.recordsNotInCatalog)

        let packFiles = try store.packFileNames()
        if committed.isEmpty, packFiles.contains(where: { fileSize(store.packPath($0)) > UInt64(PackFormat.fileHeaderSize) }) {
            throw GarbageCollectionRefusal.catalogIndexesNoPacks(packFiles: packFiles.count)
        }
        var deletions: [String] = []
        var rewrites: [String: [StoredChunk]] = [:]
        var rewriteSavings: [String: UInt64] = [:]
        var tails: [(String, UInt64)] = []
        for name in packFiles {
            let size = fileSize(store.packPath(name))
            guard let length = committed[name] else {
                report.orphanPacks += 1
                report.bytesFreed += size
                deletions.append(name)
                continue
            }
            let liveChunks = (byPack[name] ?? []).filter { live.contains($0.digest) }
            let liveBytes = liveChunks.reduce(UInt64(PackFormat.fileHeaderSize)) { $0 + UInt64($1.location.recordLength) }
            if liveChunks.isEmpty {
                report.packsDeleted += 1
                report.bytesFreed += size
                deletions.append(name)
            } else if Double(liveBytes) < Double(size) * Self.rewriteThreshold {
                report.packsRewritten += 1
                report.bytesFreed += size - liveBytes
                rewriteSavings[name] = size - liveBytes
                rewrites[name] = liveChunks
            } else if size > length {
                report.tornTailBytes += size - length
                report.bytesFreed += size - length
                tails.append((name, length))
            }
        }
        guard !dryRun else { return report }

        // Copy live chunks out of sparse packs (checking each on the way), make the copies durable, then
        // switch the catalog over in one transaction; only then delete the old files.
        // A pack holding a live chunk that fails its check is left as it is, so `verify` still finds it.
        try store.write(index: index, exclusiveLease: lease) { writer -> Set<ChunkDigest> in
            var movedDigests = Set<ChunkDigest>()
            for (name, liveChunks) in rewrites.sorted(by: { $0.key < $1.key }) {
                do {
                    for chunk in liveChunks {
                        let (header, payload) = try reader.verifiedRecord(chunk.digest, at: chunk.location)
                        try payload.withUnsafeBytes { try writer.appendRecord(header, payload: $0, base: chunk.location.base) }
                    }
                    movedDigests.formUnion(liveChunks.map(\.digest))
                } catch StoreError.corruptChunk {
                    rewrites[name] = nil
                    report.packsRewritten -= 1
                    report.bytesFreed -= rewriteSavings[name] ?? 0
                }
            }
            return movedDigests
        } commit: { sealed, movedDigests in
            let moved = sealed.newChunks.filter { movedDigests.contains($0.digest) }
            let emptied = Set(deletions).intersection(committed.keys).union(rewrites.keys)
            try catalog.write { db in
                try db.addChunks([], packs: sealed.packs)
                try db.moveChunks(moved)
                try db.deleteChunks(dead.map(\.digest.bytes))
                for name in emptied {
                    try db.deletePack(name)
                }
            }
        }
        for name in deletions + rewrites.keys {
            unlink(store.packPath(name))
        }
        for (name, length) in tails {
            truncate(store.packPath(name), off_t(length))
        }
        return report
    }

    private func fileSize(_ path: String) -> UInt64 {
        var info = stat()
        guard stat(path, &info) == 0 else { return 0 }
        return UInt64(info.st_size)
    }
}
