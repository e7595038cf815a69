import AmberCatalog
import AmberStore
import Foundation

/// Puts back the record changes of writers killed between writing a record and committing its catalog
/// transaction, so that what a user saw fail does not appear after `recover` (and gc does not take a failed
/// import's record for one the catalog lost). A change counts as committed when the catalog shows it: the row
/// exists as the record describes it (for a tombstone: the row is gone).
enum CrashedRecordChanges {
    /// Runs in a catalog write transaction: no writer changes rows meanwhile, and journals still locked belong to
    /// writers at work, which are left alone.
    static func resolve(records directory: RecordDirectory, catalog: Catalog) throws {
        guard directory.hasUndoJournals else { return }
        try catalog.write { db in
            try directory.resolveCrashedJournals { entries in
                for entry in entries.reversed() {
                    guard let type = RecordType(rawValue: entry.type), !(try committed(type, key: entry.key, directory, db)) else { continue }
                    try directory.putBack(type, key: entry.key, contents: entry.previous.map(Array.init))
                }
            }
        }
    }

    private static func committed(_ type: RecordType, key: String, _ directory: RecordDirectory, _ db: SQLiteConnection) throws -> Bool {
        switch type {
        case .vm:
            guard let record = try? directory.load(VMDescription.self, key: key) else { return true }
            return try db.vm(named: key).flatMap(VMDescription.init(row:)) == record.description
        case .image:
            guard let record = try? directory.load(ImageDescription.self, key: key) else { return true }
            let row = try db.image(named: key)
            return record.isRemoved ? row == nil : row.flatMap(ImageDescription.init(row:)) == record.description
        case .snapshot:
            guard let record = try? directory.load(SnapshotDescription.self, key: key) else { return true }
            let row = try db.snapshot(id: key)
            if record.isRemoved { return row == nil }
            // Parents move when an ancestor is removed later; what a change sets is existence and protection.
            guard let row, let described = SnapshotDescription(row: row) else { return false }
            return described.protected == record.description.protected && described.manifests == record.description.manifests
        }
    }
}
