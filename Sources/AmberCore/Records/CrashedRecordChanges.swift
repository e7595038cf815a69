import AmberCatalog
import AmberStore
import AmberSystem
import Foundation
import Glibc

/// Puts back the record changes of writers killed between writing a record and committing its catalog
/// transaction, so that what a user saw fail does not appear after `recover` (and gc does not take a failed
/// import's record for one the catalog lost). A change counts as committed when the catalog shows it: the row
/// exists as the record describes it (for a tombstone: the row is gone). A change is only put back while its
/// record file still holds the revision it wrote: once a later writer replaced the file, that writer's version
/// stands (it was made from the catalog's rows, and a catalog that was lost or replaced by an older copy does not
/// show its commit).
enum CrashedRecordChanges {
    /// Runs in a catalog write transaction: no writer changes rows meanwhile, and journals still locked belong to
    /// writers at work, which are left alone.
    static func resolve(records directory: RecordDirectory, catalog: Catalog) throws {
        guard directory.hasUndoJournals else { return }
        try catalog.write { db in
            try directory.resolveCrashedJournals { entries in
                // Newest change of each record first (two killed writers may have changed one): each put-back
                // restores the version the change before it wrote, which that change's entry then judges.
                let ordered = entries.reversed().enumerated().sorted {
                    ($0.element.written ?? 0, -$0.offset) > ($1.element.written ?? 0, -$1.offset)
                }.map(\.element)
                for entry in ordered {
                    guard let type = RecordType(rawValue: entry.type), stillWritten(entry, type, directory),
                        !(try committed(type, key: entry.key, directory, db))
                    else { continue }
                    try directory.putBack(type, key: entry.key, contents: entry.previous.map(Array.init))
                }
            }
        }
    }

    /// `resolve`, for commands that change records without opening the store (`snapshot protect`, `rm`, `prune`):
    /// the next command after a kill finishes the cleanup. Failing to is reported, not fatal: a later store open,
    /// gc or recover tries again.
    static func resolveReportingFailure(records: RecordDirectory, catalog: Catalog) {
        do {
            try resolve(records: records, catalog: catalog)
        } catch {
            StandardError.write("amber: could not put back the record changes of a killed command yet: \(error)\n")
        }
    }

    /// Whether the record file still holds the revision the entry's writer wrote (entries of journals that do not
    /// say which are judged by the catalog alone, as before revisions were journaled).
    private static func stillWritten(_ entry: RecordUndoEntry, _ type: RecordType, _ directory: RecordDirectory) -> Bool {
        guard let written = entry.written else { return true }
        let current: UInt64? =
            switch type {
            case .vm: try? directory.load(VMDescription.self, key: entry.key)?.revision
            case .image: try? directory.load(ImageDescription.self, key: entry.key)?.revision
            case .snapshot: try? directory.load(SnapshotDescription.self, key: entry.key)?.revision
            }
        return current == written
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
