import AmberCatalog
import AmberModel
import AmberStore
import Foundation

/// Where the catalog disagrees with the store's records, as gc needs to know before it frees anything.
struct CatalogStoreAgreement {
    /// Live records whose object the catalog lacks, or holds with other manifests ("snapshots/0123").
    var recordsNotInCatalog: [String] = []
    /// Damaged records whose object has no catalog row either: nothing says what they reference.
    var damagedWithoutRow: [DamagedRecord] = []

    init(records: StoreRecordSet, db: SQLiteConnection) throws {
        let imageManifests = Dictionary(
            try db.images().map { ($0.name, ChunkDigest(bytes: $0.manifest)?.hex) },
            uniquingKeysWith: { first, _ in first })
        let snapshotManifests = Dictionary(
            try db.snapshots().map { row in
                (row.id, Set(row.manifests.compactMap { ChunkDigest(bytes: $0)?.hex }))
            }, uniquingKeysWith: { first, _ in first })
        for image in records.liveImages where imageManifests[image.name] != .some(image.manifest) {
            recordsNotInCatalog.append(RecordDirectory.name(.image, key: image.name))
        }
        for snapshot in records.liveSnapshots where snapshotManifests[snapshot.id] != Set(snapshot.manifests) {
            recordsNotInCatalog.append(RecordDirectory.name(.snapshot, key: snapshot.id))
        }
        for damaged in records.damaged {
            let hasRow =
                switch damaged.type {
                case RecordType.image.rawValue: imageManifests[damaged.key] != nil
                case RecordType.snapshot.rawValue: snapshotManifests[damaged.key] != nil
                default: true  // a VM record names no chunks
                }
            if !hasRow { damagedWithoutRow.append(damaged) }
        }
    }
}

/// Why gc (or amberd's scheduled gc) freed nothing.
public enum GarbageCollectionRefusal: Error, CustomStringConvertible, Equatable {
    /// The store has records the catalog lacks, and their chunks are not all in the catalog's chunk index.
    case catalogBehindStore(records: [String])
    /// Records that cannot be read, for objects the catalog has no row of.
    case damagedRecords([String])
    /// Pack files hold records but the catalog indexes no pack at all: a lost catalog of a store that has no
    /// records yet (written before they existed) would otherwise lose every pack as an orphan.
    case catalogIndexesNoPacks(packFiles: Int)

    public var description: String {
        switch self {
        case .catalogBehindStore(let records):
            return "gc freed nothing: the catalog lacks \(records.count) record(s) the store has (\(Self.list(records))) "
                + "and does not index all their chunks; run `amber store recover` first"
        case .damagedRecords(let records):
            return "gc freed nothing: \(records.count) record(s) in the store are damaged and the catalog has no row for them "
                + "(\(Self.list(records))), so what they reference is unknown; run `amber store recover`, then move the damaged "
                + "files out of store/records if they cannot be repaired"
        case .catalogIndexesNoPacks(let packFiles):
            return "gc freed nothing: the catalog indexes none of the \(packFiles) pack file(s) in the store (was catalog.db "
                + "lost?); run `amber store recover` first"
        }
    }

    private static func list(_ names: [String]) -> String {
        names.prefix(5).joined(separator: ", ") + (names.count > 5 ? ", and \(names.count - 5) more" : "")
    }
}
