@testable import AmberCatalog
import AmberTestSupport
import Foundation
import Testing

/// The packed per-VM planning summaries always equal what the snapshot rows say, whoever changes the rows.
@Suite struct PlanningSummaryTests {
    let directory: TemporaryDirectory
    let catalog: Catalog

    init() throws {
        directory = try TemporaryDirectory()
        catalog = try Catalog(path: directory.path("catalog.db"))
        try catalog.write { db in
            for vm in ["web-1", "web-2", "db-1"] {
                try db.insertVM(VMRecord(name: vm, config: "{}", created: Date(timeIntervalSince1970: 1)))
            }
        }
    }

    /// Stored summaries, fresh and equal to the rows, for every VM that has snapshots.
    private func expectConsistent(_ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws {
        #expect(try catalog.read { try $0.staleSummaryVMs() } == [], comment, sourceLocation: sourceLocation)
        #expect(try catalog.read { try $0.inconsistentPlanningSummaries() } == [], comment, sourceLocation: sourceLocation)
    }

    private func summary(_ vm: String) throws -> SnapshotPlanningSummary? {
        try catalog.read { try $0.planningSummaries(vm: vm, includingIDs: true) }.first
    }

    @Test func summariesFollowInsertsDeletesAndProtection() throws {
        try catalog.write { db in
            try db.insertSnapshot(snapshot("w1-late", vm: "web-1", at: 200, policy: "web", stored: 77))
            try db.insertSnapshot(snapshot("w2", vm: "web-2", at: 300, policy: "other"))
            try db.insertSnapshot(snapshot("w1-hand", vm: "web-1", at: 150, policy: nil))
            try db.insertSnapshot(snapshot("w1-early", vm: "web-1", at: 100, policy: "web", protected: true))
            try db.insertSnapshot(snapshot("w1-tie", vm: "web-1", at: 200, policy: "old"))
        }
        try expectConsistent("after inserts")
        let web1 = try #require(try summary("web-1"))
        #expect(web1.ids.map { list in (0..<list.count).map { list[$0] } } == ["w1-early", "w1-hand", "w1-late", "w1-tie"])
        #expect(web1.created == [100, 150, 200, 200])
        #expect(web1.storedBytes == [10, 10, 77, 10])
        #expect(web1.protected == [true, false, false, false])
        #expect(web1.policy.map { $0 < 0 ? nil : web1.policyNames[Int($0)] } == ["web", nil, "web", "old"])
        #expect(try catalog.read { try $0.planningSummaries() }.map(\.vm) == ["web-1", "web-2"], "ordered by VM")
        // Single snapshots are found by VM, time and rank among equal times, without reading every id.
        #expect(
            try catalog.read { db in try (0..<web1.count).map { try db.snapshotID(in: web1, at: $0) } }
                == ["w1-early", "w1-hand", "w1-late", "w1-tie"])
        let tie = try #require(try catalog.read { try $0.snapshotPlace(id: "w1-tie") })
        #expect(tie.vm == "web-1" && web1.position(created: tie.created, tieOffset: tie.tieOffset) == 3)
        #expect(web1.position(created: 175, tieOffset: 0) == nil)

        try catalog.write { try $0.setSnapshotProtected(id: "w1-early", false) }
        try catalog.write { try $0.setSnapshotProtected(id: "w1-late", true) }
        try expectConsistent("after protect and unprotect")
        #expect(try summary("web-1")?.protected == [false, false, true, false])

        try catalog.write { try $0.deleteSnapshot(id: "w1-hand") }
        try expectConsistent("after a delete")
        #expect(try summary("web-1")?.count == 3)

        try catalog.write { try $0.deleteUnprotectedSnapshots(ids: ["w1-early", "w1-late", "w1-tie"]) }
        try expectConsistent("after a prune")
        #expect(try summary("web-1")?.ids.map { $0[0] } == "w1-late", "the protected one stays")

        try catalog.write { try $0.deleteSnapshot(id: "w2") }
        try expectConsistent("after a VM's last snapshot went")
        #expect(try summary("web-2") == nil)
        #expect(
            try catalog.read { try $0.statement("SELECT COUNT(*) FROM snapshot_summaries WHERE vm = 'web-2'").rows { $0.int(0) } } == [0])
    }

    @Test func rowsChangedOutsideAmberAreNeverReadThroughAStaleSummary() throws {
        try catalog.write { db in
            try db.insertSnapshot(snapshot("a", vm: "web-1", at: 10, policy: "web"))
            try db.insertSnapshot(snapshot("b", vm: "web-1", at: 20, policy: "web"))
        }
        try expectConsistent()
        // What the sqlite3 CLI or an older tool would do: plain SQL, no summary maintenance.
        try catalog.write { db in
            try db.execute("UPDATE snapshots SET policy = 'renamed', stored_bytes = 5 WHERE id = 'a'")
            try db.execute(
                """
                INSERT INTO snapshots (id, vm, created, kind, logical_bytes, stored_bytes, pause_microseconds)
                VALUES ('c', 'db-1', 5, 'full', 1, 1, 1)
                """)
        }
        #expect(Set(try catalog.read { try $0.staleSummaryVMs() }) == ["web-1", "db-1"])
        let read = try catalog.read { try $0.planningSummaries(includingIDs: true) }
        let rows = try catalog.read { db in try ["db-1", "web-1"].compactMap { try db.planningSummaryFromRows(vm: $0, includingIDs: true) }
        }
        #expect(read == rows, "stale VMs are read from their rows")
        #expect(read.first { $0.vm == "web-1" }?.policyNames == ["renamed", "web"])

        try catalog.write { try $0.refreshPlanningSummaries() }
        try expectConsistent("after the refresh")
        #expect(try catalog.read { try $0.planningSummaries(includingIDs: true) } == rows)
    }

    @Test func aSummaryThatDoesNotDecodeIsRebuiltNotRead() throws {
        try catalog.write { db in
            try db.insertSnapshot(snapshot("a", vm: "web-1", at: 10, policy: "web"))
            try db.insertSnapshot(snapshot("b", vm: "web-1", at: 20, policy: nil))
        }
        let expected = try #require(try summary("web-1"))
        try catalog.write { try $0.execute("UPDATE snapshot_summaries SET records = x'0102', count = 7") }
        #expect(try summary("web-1") == expected, "read from the rows instead")
        #expect(try catalog.read { try $0.inconsistentPlanningSummaries() } == ["web-1"])
        try catalog.write { try $0.rebuildPlanningSummaries() }
        try expectConsistent("after the rebuild")

        // A summary in another format (an older amber's) is refreshed like a stale one.
        try catalog.write { try $0.execute("UPDATE snapshot_summaries SET format = 0") }
        #expect(try catalog.read { try $0.planningSummariesNeedRefresh() })
        #expect(try summary("web-1") == expected)
        try catalog.write { try $0.refreshPlanningSummaries() }
        #expect(try !catalog.read { try $0.planningSummariesNeedRefresh() })
        try expectConsistent("after the refresh")
    }

    /// Counts whose record bytes overflow 64 bits (9e17 x 21) or are negative were a trap, not a mismatch.
    @Test(arguments: ["900000000000000000", "9223372036854775807", "-1"])
    func aSummaryCountNoBlobCanHoldIsRebuiltNotRead(count: String) throws {
        try catalog.write { try $0.insertSnapshot(snapshot("a", vm: "web-1", at: 10, policy: "web")) }
        let expected = try #require(try summary("web-1"))
        try catalog.write { try $0.execute("UPDATE snapshot_summaries SET count = \(count)") }
        #expect(try summary("web-1") == expected, "read from the rows instead")
        #expect(try catalog.read { try $0.inconsistentPlanningSummaries() } == ["web-1"])
    }

    @Test func aCatalogMigratedWithRowsGetsItsSummariesBuilt() throws {
        let path = directory.path("old.db")
        let old = try SQLiteConnection(path: path)
        try old.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied REAL NOT NULL)")
        for migration in Migrations.all.prefix(3) {
            try old.execute(migration.sql)
            try old.statement("INSERT INTO schema_migrations (name, applied) VALUES (?, 0)").bind(.text(migration.name)).run()
        }
        try old.execute(
            """
            INSERT INTO vms VALUES ('db-1', '{}', 1), ('web-1', '{}', 1);
            INSERT INTO snapshots (id, vm, created, kind, logical_bytes, stored_bytes, pause_microseconds, protected, policy)
            VALUES ('o1', 'db-1', 5, 'full', 1, 3, 1, 0, NULL), ('o2', 'web-1', 7, 'full', 1, 4, 1, 1, 'web'),
                   ('o3', 'web-1', 6, 'full', 1, 5, 1, 0, 'web');
            """)
        let migrated = try Catalog(path: path)
        #expect(try migrated.appliedMigrations() == Catalog.knownMigrations)
        #expect(Set(try migrated.read { try $0.staleSummaryVMs() }) == ["db-1", "web-1"])
        let fromRows = try migrated.read { try $0.planningSummaries(includingIDs: true) }
        #expect(fromRows.map(\.vm) == ["db-1", "web-1"])
        #expect(fromRows[1].ids.map { [$0[0], $0[1]] } == ["o3", "o2"] && fromRows[1].storedBytes == [5, 4])
        try migrated.write { try $0.refreshPlanningSummaries() }
        #expect(try migrated.read { try $0.staleSummaryVMs() } == [])
        #expect(try migrated.read { try $0.inconsistentPlanningSummaries() } == [])
        #expect(try migrated.read { try $0.planningSummaries(includingIDs: true) } == fromRows)
    }

    /// A writer killed with SIGKILL inside its transaction leaves neither rows nor stale marks nor summaries
    /// half-written: rows and their summary commit together or not at all.
    @Test func aWriterKilledMidTransactionLeavesRowsAndSummariesAgreeing() throws {
        try catalog.write { db in
            try db.insertSnapshot(snapshot("a", vm: "web-1", at: 10, policy: "web"))
        }
        let before = try summary("web-1")
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        writer.arguments = [catalog.path]
        let input = Pipe()
        let output = Pipe()
        writer.standardInput = input
        writer.standardOutput = output
        try writer.run()
        input.fileHandleForWriting.write(
            Data(
                """
                BEGIN IMMEDIATE;
                INSERT INTO snapshots (id, vm, created, kind, logical_bytes, stored_bytes, pause_microseconds, policy)
                VALUES ('b', 'web-1', 20, 'full', 1, 1, 1, 'web');
                UPDATE snapshots SET protected = 1 WHERE id = 'a';
                SELECT 'inside';

                """.utf8))
        // Wait until the writer has run its statements inside the open transaction, then kill it.
        let marker = output.fileHandleForReading.availableData
        #expect(String(decoding: marker, as: UTF8.self).contains("inside"))
        kill(writer.processIdentifier, SIGKILL)
        writer.waitUntilExit()
        #expect(writer.terminationReason == .uncaughtSignal)

        let reopened = try Catalog(path: catalog.path)
        #expect(try reopened.read { try $0.snapshots(vm: "web-1") }.map(\.id) == ["a"])
        #expect(try reopened.read { try $0.staleSummaryVMs() } == [])
        #expect(try reopened.read { try $0.planningSummaries(vm: "web-1", includingIDs: true) }.first == before)
        #expect(try reopened.read { try $0.inconsistentPlanningSummaries() } == [])
    }
}
