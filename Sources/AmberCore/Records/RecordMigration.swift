import AmberCatalog
import AmberStore
import Foundation

/// How a store written before records existed gains them: the first `StoreContext` that opens the home (any
/// command that opens the store) writes a record for every catalog row that has none, in one catalog write
/// transaction (so no other writer changes rows meanwhile), then leaves `records/COMPLETE`. `amber store
/// recover` does the same for rows it finds without a record (an older amber wrote them, or the catalog was
/// replaced by a copy holding rows the store never recorded).
enum RecordMigration {
    struct Outcome {
        var written: [String] = []
        /// Rows no record can describe (impossible values); they keep their rows, and gc marks from them.
        var undescribable: [String] = []
    }

    /// Gives records to the rows lacking one, if this home has not been through it yet; returns a line for the log.
    static func completeIfNeeded(catalog: Catalog, records directory: RecordDirectory) throws -> String? {
        guard !directory.isComplete else { return nil }
        let outcome = try catalog.write { db -> Outcome in
            guard !directory.isComplete else { return Outcome() }
            let outcome = try recordRowsLackingRecords(db, directory: directory)
            try directory.markComplete()
            return outcome
        }
        guard !outcome.written.isEmpty || !outcome.undescribable.isEmpty else { return nil }
        return "gave \(outcome.written.count) catalog row(s) a record in the store (written before records existed)"
            + (outcome.undescribable.isEmpty
                ? ""
                : "; \(outcome.undescribable.count) row(s) hold values no record can: "
                    + outcome.undescribable.prefix(5).joined(separator: ", "))
    }

    /// Writes a record for every row whose object has no record file at all (a tombstone counts as a record:
    /// the row is then one the store says was removed, for `recover` to delete).
    static func recordRowsLackingRecords(_ db: SQLiteConnection, directory: RecordDirectory, dryRun: Bool = false) throws -> Outcome {
        var outcome = Outcome()
        func lacking<D: RecordDescription>(_ type: D.Type, _ rows: [(key: String, description: D?)]) throws {
            let present = Set(try directory.keys(D.recordType))
            var missing: [StoredRecord<D>] = []
            for row in rows where !present.contains(row.key) {
                let name = RecordDirectory.name(D.recordType, key: row.key)
                guard let description = row.description else {
                    outcome.undescribable.append(name)
                    continue
                }
                missing.append(StoredRecord(description: description))
                outcome.written.append(name)
            }
            if !dryRun { try directory.save(missing) }
        }
        try lacking(VMDescription.self, try db.vms().map { ($0.name, VMDescription(row: $0)) })
        try lacking(ImageDescription.self, try db.images().map { ($0.name, ImageDescription(row: $0)) })
        try lacking(SnapshotDescription.self, try db.snapshots().map { ($0.id, SnapshotDescription(row: $0)) })
        return outcome
    }
}
