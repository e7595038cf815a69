import AmberCatalog
import AmberStore
import Foundation

/// Writes the store's record of each catalog change, inside the catalog write transaction that makes it and
/// before the change itself: a record is durable before the row that it describes is committed, and records are
/// written in the order the catalog's commits happen (one write transaction at a time).
///
/// What each file held before goes first into an undo journal (durably, see `RecordUndoJournal`). If the
/// transaction fails, `undo()` puts the records back as they were; if the process is killed between a record and
/// its commit, the next store open, gc or recover finds the journal unlocked and puts back what the catalog shows
/// was not committed (`CrashedRecordChanges`). Run the transaction through `undoingOnFailure`.
final class RecordKeeper {
    let directory: RecordDirectory
    private var journal: [(type: RecordType, key: String, contents: [UInt8]?)] = []
    private var undoJournal: RecordUndoJournal?

    init(directory: RecordDirectory) {
        self.directory = directory
    }

    /// The records of `home`'s store; an encrypted store's need its key (the home's key options).
    convenience init(home: AmberHome) throws {
        self.init(directory: try ChunkStore.records(storeDirectory: home.storeDirectory, key: home.keyInput))
    }

    func recordVM(_ row: VMRecord) throws {
        guard let description = VMDescription(row: row) else { throw Self.undescribable("VM", row.name) }
        try save([description], removed: nil)
    }

    func recordImage(_ row: ImageRecord) throws {
        guard let description = ImageDescription(row: row) else { throw Self.undescribable("image", row.name) }
        try save([description], removed: nil)
    }

    func recordImageRemoval(_ row: ImageRecord) throws {
        guard let description = ImageDescription(row: row) else { return }
        try save([description], removed: Date())
    }

    /// The snapshot as it now is (new, or protected or unprotected).
    func recordSnapshot(_ row: SnapshotRecord) throws {
        guard let description = SnapshotDescription(row: row) else { throw Self.undescribable("snapshot", row.id) }
        try save([description], removed: nil)
    }

    /// Tombstones for snapshots about to be deleted, each keeping its parent: `recover` moves the children of
    /// a removed snapshot up to that parent, as the catalog's trigger does.
    func recordSnapshotRemovals(_ rows: [SnapshotRecord]) throws {
        try save(rows.compactMap(SnapshotDescription.init(row:)), removed: Date())
    }

    /// Runs `body` (a catalog transaction that records through this keeper); if it fails, undoes the records.
    func undoingOnFailure<T>(_ body: () throws -> T) throws -> T {
        let result: T
        do {
            result = try body()
        } catch {
            undo()
            throw error
        }
        undoJournal?.discard()
        undoJournal = nil
        journal = []
        return result
    }

    /// Puts every record this keeper wrote back as it was (the catalog transaction failed).
    func undo() {
        for entry in journal.reversed() {
            try? directory.putBack(entry.type, key: entry.key, contents: entry.contents)
        }
        journal = []
        undoJournal?.discard()
        undoJournal = nil
    }

    private func save<D: RecordDescription>(_ descriptions: [D], removed: Date?) throws {
        guard !descriptions.isEmpty else { return }
        let undoJournal = try self.undoJournal ?? directory.beginUndoJournal()
        self.undoJournal = undoJournal
        let records = descriptions.map { description in
            // A damaged previous version is replaced: the catalog row this describes is the better truth.
            let revision = ((try? directory.load(D.self, key: description.key))??.revision ?? 0) + 1
            return StoredRecord(revision: revision, removed: removed?.timeIntervalSince1970, description: description)
        }
        try directory.journal(records.map { (D.recordType, $0.description.key, $0.revision) }, in: undoJournal)
        for record in records {
            journal.append((D.recordType, record.description.key, directory.contents(D.recordType, key: record.description.key)))
        }
        try directory.save(records)
    }

    private static func undescribable(_ what: String, _ name: String) -> Error {
        StoreError.badRecord(
            name: "\(what) \(name)",
            reason: "its catalog row holds values no record can (a manifest that is not a digest, or a name or label out of bounds)")
    }
}
