import AmberCatalog
@testable import AmberCore
import AmberStore
import AmberTestSupport
import Foundation
import Glibc
import Testing

/// What a command killed between writing a record and committing its catalog transaction leaves (an undo journal
/// nobody holds, the record as it wrote it), and what later commands and `recover` make of it.
@Suite("Record changes of killed commands, and the changes after them")
struct KilledRecordChangeTests {
    private struct Killed: Error {}

    private func home(_ directory: TemporaryDirectory) throws -> (AmberHome, String) {
        let home = directory.home
        let memory = TestContent.random(64 << 10, seed: 3)
        let id = try memory.withUnsafeBytes {
            try SnapshotService(home: home).storeSynthetic(vm: "syn", configJSON: "{}", created: Date(), memory: $0, state: [1, 2, 3]).id
        }
        return (home, id)
    }

    /// A protection change whose record is written and whose process dies before the catalog commits: the keeper
    /// goes away without undoing (its journal's lock goes with it, as with a kill).
    private func killedProtection(_ home: AmberHome, _ id: String, _ protected: Bool) throws {
        let catalog = try Catalog(path: home.catalogFile.path)
        let keeper = try RecordKeeper(home: home)
        #expect(throws: Killed.self) {
            try catalog.write { db in
                var row = try #require(try db.snapshot(id: id))
                row.protected = protected
                try keeper.recordSnapshot(row)
                throw Killed()
            }
        }
    }

    /// A protection change that commits, by a writer that did not put back crashed changes first (one that ran
    /// while the killed command's journal was still locked, or an amber from before commands did).
    private func committedProtection(_ home: AmberHome, _ id: String, _ protected: Bool) throws {
        let catalog = try Catalog(path: home.catalogFile.path)
        let keeper = try RecordKeeper(home: home)
        try keeper.undoingOnFailure {
            try catalog.write { db in
                var row = try #require(try db.snapshot(id: id))
                row.protected = protected
                try keeper.recordSnapshot(row)
                try db.setSnapshotProtected(id: id, protected)
            }
        }
    }

    private func recoverWithoutCatalog(_ home: AmberHome) throws -> SnapshotRecord? {
        for suffix in ["", "-wal", "-shm"] { unlink(home.catalogFile.path + suffix) }
        let context = try StoreContext(home: home)
        _ = try context.recover(dryRun: false)
        return try context.catalog.read { try $0.snapshots().first }
    }

    /// Found by the protect kill loop: a killed `protect`, then a `protect` that exited 0, then catalog.db lost;
    /// `recover` put the record of the killed one's journal back over the committed one's and the snapshot came back
    /// unprotected.
    @Test func aKilledChangeNeverUndoesALaterCommittedOne() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let (home, id) = try home(directory)
        try killedProtection(home, id, true)
        try committedProtection(home, id, true)
        #expect(RecordDirectory(storeDirectory: home.storeDirectory).hasUndoJournals)
        #expect(try recoverWithoutCatalog(home)?.protected == true)
    }

    @Test func twoKilledChangesOfOneRecordAreBothPutBack() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let (home, id) = try home(directory)
        try killedProtection(home, id, true)
        try killedProtection(home, id, false)
        try killedProtection(home, id, true)
        let records = RecordDirectory(storeDirectory: home.storeDirectory)
        #expect(try records.load(SnapshotDescription.self, key: id)?.revision == 4)
        // Neither was committed: recover (catalog or not) gives back the record the snapshot was taken with.
        #expect(try recoverWithoutCatalog(home)?.protected == false)
        let record = try #require(try records.load(SnapshotDescription.self, key: id))
        #expect(record.revision == 1 && !record.description.protected)
    }

    @Test func theNextProtectPutsBackWhatAKilledOneLeft() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let (home, id) = try home(directory)
        try killedProtection(home, id, true)
        let records = RecordDirectory(storeDirectory: home.storeDirectory)
        #expect(records.hasUndoJournals)
        try SnapshotService(home: home).setProtected(id: id, false)
        #expect(!records.hasUndoJournals)
        #expect(try records.load(SnapshotDescription.self, key: id)?.revision == 2)
    }
}
