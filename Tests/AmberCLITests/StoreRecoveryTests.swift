import AmberCatalog
@testable import AmberCore
import AmberModel
import AmberStore
import AmberTestSupport
import Foundation
import Glibc
import Testing

/// `recover` and gc against a real catalog and real packs, with images (snapshots of running VMs are in
/// CLIRecoverTests): the store's records are enough to rebuild the catalog, and gc never frees what they name.
@Suite("Store records and recover")
struct StoreRecoveryTests {
    private func importImage(_ context: StoreContext, _ directory: TemporaryDirectory, _ name: String, seed: UInt64) throws -> [UInt8] {
        let bytes = TestContent.text(1 << 20, seed: seed) + TestContent.random(512 << 10, seed: seed + 1)
        try TestContent.write(bytes, to: directory.path("\(name).img"))
        _ = try ImageService(context: context).importImage(file: directory.path("\(name).img"), name: name)
        return bytes
    }

    private func removeCatalog(_ home: AmberHome) {
        for suffix in ["", "-wal", "-shm"] { unlink(home.catalogFile.path + suffix) }
    }

    private func packBytes(_ context: StoreContext) throws -> [String: UInt64] {
        Dictionary(
            uniqueKeysWithValues: try context.store.packFileNames().map { name in
                (name, (try FileManager.default.attributesOfItem(atPath: context.store.packPath(name))[.size] as? UInt64) ?? 0)
            })
    }

    /// A consistent copy of the catalog as it is now (the sqlite3 CLI's online backup: WAL contents included).
    private func copyCatalog(_ home: AmberHome, to path: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        process.arguments = [home.catalogFile.path, ".backup '\(path)'"]
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0)
    }

    @Test func withTheCatalogGoneGcFreesNothingAndRecoverBringsTheImagesBack() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let home = directory.home
        var context: StoreContext? = try StoreContext(home: home, packTarget: 1 << 20)
        let kept = try importImage(context!, directory, "kept", seed: 1)
        _ = try importImage(context!, directory, "dropped", seed: 7)
        try ImageService(context: context!).remove(name: "dropped")
        let listed = try ImageService(context: context!).list()
        context = nil
        removeCatalog(home)

        let empty = try StoreContext(home: home, packTarget: 1 << 20)
        #expect(try ImageService(context: empty).list().isEmpty)
        let before = try packBytes(empty)
        #expect(throws: GarbageCollectionRefusal.self) { try empty.collectGarbage(dryRun: false) }
        #expect(try packBytes(empty) == before, "gc with no catalog must not touch a pack")
        do {
            _ = try empty.collectGarbage(dryRun: true)
        } catch {
            #expect("\(error)".contains("images/kept") && "\(error)".contains("amber store recover") && !"\(error)".contains("\n"))
        }

        let report = try empty.recover(dryRun: false)
        #expect(report.added == ["image kept"])
        #expect(report.records.images == 1 && report.records.removed == 1)
        #expect(try ImageService(context: empty).list() == listed)
        // Re-running finds nothing to do.
        let again = try empty.recover(dryRun: false)
        #expect(!again.changedCatalog && again.recordsWritten.isEmpty)

        let gc = try empty.collectGarbage(dryRun: false)
        #expect(gc.recordsNotInCatalog.isEmpty && gc.deadChunks > 0, "the removed image's chunks are dead")
        try ImageService(context: empty).export(name: "kept", to: directory.path("kept.out"))
        #expect(try TestContent.sha256(ofFile: directory.path("kept.out")) == TestContent.sha256(kept))
        #expect(try empty.verify().isClean)
    }

    @Test func anOlderCopyOfTheCatalogLearnsTheNewerImagesAndRemovals() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let home = directory.home
        let context = try StoreContext(home: home, packTarget: 1 << 20)
        _ = try importImage(context, directory, "old-a", seed: 1)
        let b = try importImage(context, directory, "old-b", seed: 3)
        try copyCatalog(home, to: directory.path("older.db"))
        try ImageService(context: context).remove(name: "old-a")
        let c = try importImage(context, directory, "new-c", seed: 5)
        let listed = try ImageService(context: context).list()

        removeCatalog(home)
        try FileManager.default.copyItem(atPath: directory.path("older.db"), toPath: home.catalogFile.path)
        let older = try StoreContext(home: home, packTarget: 1 << 20)
        #expect(try ImageService(context: older).list().map(\.name) == ["old-a", "old-b"])
        // The older copy does not index new-c's chunks: gc refuses rather than take their pack for an orphan.
        #expect(throws: GarbageCollectionRefusal.catalogBehindStore(records: ["images/new-c"])) {
            try older.collectGarbage(dryRun: true)
        }

        let report = try older.recover(dryRun: false)
        #expect(report.added == ["image new-c"] && report.removed == ["image old-a"])
        #expect(try ImageService(context: older).list() == listed)
        _ = try older.collectGarbage(dryRun: false)
        for (name, bytes) in [("old-b", b), ("new-c", c)] {
            try ImageService(context: older).export(name: name, to: directory.path("\(name).out"))
            #expect(try TestContent.sha256(ofFile: directory.path("\(name).out")) == TestContent.sha256(bytes))
        }
    }

    @Test func aDamagedRecordIsSkippedByRecoverAndRepairedWhenTheCatalogHasItsRow() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let home = directory.home
        var context: StoreContext? = try StoreContext(home: home, packTarget: 1 << 20)
        _ = try importImage(context!, directory, "good", seed: 1)
        _ = try importImage(context!, directory, "hurt", seed: 9)
        let records = RecordDirectory(storeDirectory: home.storeDirectory)
        let path = records.path(.image, key: "hurt")
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))

        // The catalog still has the row: recover rewrites the record from it.
        let repaired = try context!.recover(dryRun: false)
        #expect(repaired.recordsRepaired == ["images/hurt"] && repaired.damagedRecords.isEmpty)
        #expect(try records.load(ImageDescription.self, key: "hurt")?.description.name == "hurt")

        // No row and a damaged record: recover skips it with a reason; gc refuses, naming it.
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: path))
        context = nil
        removeCatalog(home)
        let empty = try StoreContext(home: home, packTarget: 1 << 20)
        let report = try empty.recover(dryRun: false)
        #expect(report.added == ["image good"])
        #expect(report.damagedRecords.map(\.path) == ["images/hurt"])
        #expect(report.damagedRecords.first?.reason.contains("truncated") == true)
        do {
            _ = try empty.collectGarbage(dryRun: false)
            Issue.record("gc swept with a damaged record it cannot read")
        } catch let refusal as GarbageCollectionRefusal {
            #expect("\(refusal)".contains("images/hurt") && !"\(refusal)".contains("\n"))
        }
    }

    /// A store written before records existed (catalog rows, no records/): the first open gives every row a record.
    @Test func aStoreWithoutRecordsGainsThemOnFirstOpen() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let home = directory.home
        var context: StoreContext? = try StoreContext(home: home, packTarget: 1 << 20)
        let bytes = try importImage(context!, directory, "legacy", seed: 2)
        try context!.catalog.write { db in
            try db.insertVM(VMRecord(name: "vm1", config: "{}", created: Date(timeIntervalSince1970: 1_700_000_000)))
            try db.insertSnapshot(
                SnapshotRecord(
                    id: "00000000000000a1", vm: "vm1", created: Date(timeIntervalSince1970: 1_700_000_100),
                    kind: "disk", logicalBytes: 10, storedBytes: 5, pauseMicroseconds: 1, protected: true,
                    policy: "nightly"))
        }
        context = nil
        try FileManager.default.removeItem(at: home.storeDirectory.appendingPathComponent("records"))

        let reopened = try StoreContext(home: home, packTarget: 1 << 20)
        let records = RecordDirectory(storeDirectory: home.storeDirectory)
        #expect(records.isComplete)
        #expect(try records.keys(.image) == ["legacy"])
        #expect(try records.keys(.vm) == ["vm1"])
        #expect(try records.load(SnapshotDescription.self, key: "00000000000000a1")?.description.protected == true)
        try ImageService(context: reopened).export(name: "legacy", to: directory.path("legacy.out"))
        #expect(try TestContent.sha256(ofFile: directory.path("legacy.out")) == TestContent.sha256(bytes))
        #expect(try reopened.recover(dryRun: true).changedCatalog == false)
    }
}

/// A writer killed between its record and its catalog commit: the change is put back, so neither gc nor recover
/// takes it for one the catalog lost.
@Suite("Record changes of killed writers")
struct CrashedRecordChangeTests {
    @Test func aRecordWithoutItsCommitIsPutBackByTheNextOpen() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let home = directory.home
        let context = try StoreContext(home: home, packTarget: 1 << 20)
        let records = RecordDirectory(storeDirectory: home.storeDirectory)
        try TestContent.write(TestContent.random(256 << 10, seed: 4), to: directory.path("a.img"))
        _ = try ImageService(context: context).importImage(file: directory.path("a.img"), name: "a")
        let before = records.contents(.image, key: "a")
        let manifest = String(repeating: "cd", count: 32)
        do {
            // As a killed writer leaves them: journal and records written, the catalog never told, the journal's lock
            // gone with the process (here: with the keeper).
            let keeper = try RecordKeeper(home: home)
            try keeper.recordImage(
                ImageRecord(
                    name: "ghost", manifest: ChunkDigest(hex: manifest)!.bytes, logicalBytes: 1,
                    storedBytes: 1, chunkSize: 65536, created: Date()))
            try keeper.recordImageRemoval(try #require(try context.catalog.read { try $0.image(named: "a") }))
        }
        #expect(try records.keys(.image) == ["a", "ghost"])
        #expect(try records.load(ImageDescription.self, key: "a")?.isRemoved == true)

        let gc = try context.collectGarbage(dryRun: false)
        #expect(gc.recordsNotInCatalog.isEmpty)
        #expect(try records.keys(.image) == ["a"])
        #expect(records.contents(.image, key: "a") == before)
        #expect(!records.hasUndoJournals)
        #expect(try context.recover(dryRun: true).changedCatalog == false)
    }
}

/// A store written before records existed has nothing but its packs once the catalog is gone: gc must not take
/// every pack for an orphan.
@Suite("gc without a catalog and without records")
struct GCWithoutAnyIndexTests {
    @Test func gcRefusesWhenTheCatalogIndexesNoPackAndRecoverGivesTheChunksBack() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let home = directory.home
        var context: StoreContext? = try StoreContext(home: home, packTarget: 1 << 20)
        try TestContent.write(TestContent.random(256 << 10, seed: 4), to: directory.path("a.img"))
        _ = try ImageService(context: context!).importImage(file: directory.path("a.img"), name: "a")
        context = nil
        try FileManager.default.removeItem(at: home.storeDirectory.appendingPathComponent("records"))
        for suffix in ["", "-wal", "-shm"] { unlink(home.catalogFile.path + suffix) }

        let empty = try StoreContext(home: home, packTarget: 1 << 20)
        let packs = try empty.store.packFileNames()
        #expect(throws: GarbageCollectionRefusal.catalogIndexesNoPacks(packFiles: packs.count)) {
            try empty.collectGarbage(dryRun: false)
        }
        #expect(try empty.store.packFileNames() == packs)
        let report = try empty.recover(dryRun: false)
        #expect(report.index.chunks > 0 && report.added.isEmpty)
        _ = try empty.collectGarbage(dryRun: true)
    }
}

/// Snapshots a policy pruned stay pruned after `recover`: prune leaves a tombstone for each.
@Suite("Prune and recover", .serialized)
struct PruneRecoverTests {
    @Test func prunedSnapshotsStayGoneAndProtectionSurvivesRecover() throws {
        let home = try PolicyHome()
        defer { home.remove() }
        try home.writePolicy(
            "web.yaml",
            """
            name: web
            vms: ["web-*"]
            schedule: hourly
            timezone: UTC
            keep: { last: 2 }
            """)
        let base = Date(timeIntervalSince1970: 1_795_132_800)
        var rows: [(id: String, at: Date, policy: String?, protected: Bool)] = [("m0", base, nil, false)]
        for hour in 1...6 { rows.append(("s\(hour)", base.addingTimeInterval(Double(hour) * 3600), "web", hour == 1)) }
        try home.insertSnapshots(vm: "web-1", rows)
        _ = try StoreContext(home: home.amberHome)  // the first open gives these rows (written behind amber's back) records

        let pruned = try home.amber(["prune", "--json"])
        try #require(pruned.status == 0, "\(pruned.stderr)")
        #expect(try home.snapshotIDs(vm: "web-1") == ["m0", "s1", "s5", "s6"])
        let before = try home.cli.amber(["snapshots", "--json"])
        let plan = try home.amber(["policy", "plan", "--verbose", "--at", "2026-11-21T00:00:00Z"])

        for suffix in ["", "-wal", "-shm"] { unlink(home.amberHome.catalogFile.path + suffix) }
        let recover = try home.cli.amber(["store", "recover", "--json"])
        try #require(recover.status == 0, "\(recover.stderr)")
        let report = try JSONDecoder().decode(RecoveryReport.self, from: Data(recover.stdout.utf8))
        #expect(report.records.snapshots == 4 && report.records.removed == 3)
        #expect(try home.cli.amber(["snapshots", "--json"]).stdout == before.stdout)
        #expect(try home.amber(["policy", "plan", "--verbose", "--at", "2026-11-21T00:00:00Z"]).stdout == plan.stdout)
        #expect(try home.catalog().read { try $0.snapshot(id: "s1")?.protected } == true)
    }
}

/// What a user sees of a damaged record: one line naming it, from recover (a warning; the rest is recovered) and
/// from gc (which then frees nothing).
@Suite("A damaged record through the CLI")
struct DamagedRecordCLITests {
    @Test(.enabled(if: AmberBinary.exists)) func recoverWarnsInOneLineAndGcRefusesInOne() throws {
        let home = try CLIHome()
        defer { home.remove() }
        for name in ["good", "hurt"] {
            let file = try home.file("\(name).img", TestContent.random(200_000, seed: name == "good" ? 1 : 2))
            try #require(try home.amber(["image", "import", file, "--name", name]).status == 0)
        }
        let record = home.root.appendingPathComponent("store/records/images/hurt")
        let bytes = try Data(contentsOf: record)
        try bytes.prefix(bytes.count - 1).write(to: record)
        for suffix in ["", "-wal", "-shm"] { unlink(home.root.appendingPathComponent("catalog.db").path + suffix) }

        let recover = try home.amber(["store", "recover"])
        #expect(recover.status == 0)
        let warnings = recover.stderr.split(separator: "\n")
        #expect(warnings.count == 1 && warnings[0].hasPrefix("amber: warning: skipped damaged record images/hurt:"), "\(recover.stderr)")
        let listed = try home.amber(["image", "ls"])
        #expect(listed.stdout.contains("good") && !listed.stdout.contains("hurt"))
        let gc = try home.amber(["store", "gc"])
        #expect(gc.status == 74 && !gc.errorLine.contains("\n") && gc.errorLine.contains("images/hurt"), "\(gc.stderr)")
    }
}
