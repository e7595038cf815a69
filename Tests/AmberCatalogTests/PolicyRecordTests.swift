@testable import AmberCatalog
import AmberTestSupport
import Foundation
import Testing

/// The snapshot `policy` column, the planner's snapshot query and amberd's run history.
@Suite struct PolicyRecordTests {
    let directory: TemporaryDirectory
    let catalog: Catalog

    init() throws {
        directory = try TemporaryDirectory()
        catalog = try Catalog(path: directory.path("catalog.db"))
    }

    @Test func policyColumnRoundTripsAndDefaultsToNil() throws {
        try catalog.write { db in
            try db.insertVM(VMRecord(name: "web-1", config: "{}", created: Date(timeIntervalSince1970: 1)))
            try db.insertSnapshot(snapshot("a", vm: "web-1", at: 10, policy: "web-tier"))
            try db.insertSnapshot(snapshot("b", vm: "web-1", at: 20, policy: nil))
        }
        #expect(try catalog.read { try $0.snapshot(id: "a") }?.policy == "web-tier")
        #expect(try catalog.read { try $0.snapshot(id: "b") }?.policy == nil)
        #expect(try catalog.read { try $0.snapshots(vm: "web-1") }.map(\.policy) == ["web-tier", nil])
    }

    @Test func aCatalogFromBeforeThePolicyColumnMigratesKeepingItsSnapshots() throws {
        let path = directory.path("old.db")
        let old = try SQLiteConnection(path: path)
        try old.execute("CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied REAL NOT NULL)")
        for migration in Migrations.all.prefix(2) {
            try old.execute(migration.sql)
            try old.statement("INSERT INTO schema_migrations (name, applied) VALUES (?, 0)").bind(.text(migration.name)).run()
        }
        try old.execute(
            """
            INSERT INTO vms VALUES ('db-1', '{}', 1);
            INSERT INTO snapshots (id, vm, created, kind, logical_bytes, stored_bytes, pause_microseconds)
            VALUES ('old1', 'db-1', 5, 'full', 1, 1, 1);
            """)
        let migrated = try Catalog(path: path)
        #expect(try migrated.appliedMigrations() == Catalog.knownMigrations)
        let row = try #require(try migrated.read { try $0.snapshot(id: "old1") })
        #expect(row.policy == nil && row.vm == "db-1")
        #expect(try migrated.read { try $0.daemonRuns() }.isEmpty)
    }

    @Test func planningSummariesComeOrderedByVMThenTimeWithOnlyWhatPlanningNeeds() throws {
        try catalog.write { db in
            for vm in ["web-2", "db-1", "web-1"] {
                try db.insertVM(VMRecord(name: vm, config: "{}", created: Date(timeIntervalSince1970: 1)))
            }
            // Inserted out of order on purpose.
            try db.insertSnapshot(snapshot("w2-late", vm: "web-2", at: 300, policy: "web"))
            try db.insertSnapshot(snapshot("w1-late", vm: "web-1", at: 200, policy: "web", protected: true, stored: 77))
            try db.insertSnapshot(snapshot("d1", vm: "db-1", at: 500, policy: nil))
            try db.insertSnapshot(snapshot("w1-early", vm: "web-1", at: 100, policy: "web"))
            try db.insertSnapshot(snapshot("w2-early", vm: "web-2", at: 50, policy: "other"))
        }
        let summaries = try catalog.read { try $0.planningSummaries(includingIDs: true) }
        #expect(
            summaries.flatMap { summary in (0..<summary.count).map { summary.ids![$0] } }
                == ["d1", "w1-early", "w1-late", "w2-early", "w2-late"])
        #expect(summaries.map(\.vm) == ["db-1", "web-1", "web-2"])
        #expect(
            summaries.flatMap { summary in summary.policy.map { $0 < 0 ? nil : summary.policyNames[Int($0)] } }
                == [nil, "web", "web", "other", "web"])
        #expect(summaries.flatMap(\.created) == [500, 100, 200, 50, 300])
        #expect(summaries[1].protected == [false, true] && summaries[1].storedBytes == [10, 77])
        #expect(
            try catalog.read { try $0.planningSummaries(vm: "web-2", includingIDs: true) }.first?.ids.map { [$0[0], $0[1]] }
                == ["w2-early", "w2-late"])
        #expect(try catalog.read { try $0.newestSnapshotTime(vm: "web-1", policy: "web") } == Date(timeIntervalSince1970: 200))
        #expect(try catalog.read { try $0.newestSnapshotTime(vm: "web-2", policy: "other") } == Date(timeIntervalSince1970: 50))
        #expect(try catalog.read { try $0.newestSnapshotTime(vm: "db-1", policy: "web") } == nil)
    }

    @Test func daemonRunsRememberTheLastErrorAcrossLaterSuccesses() throws {
        let t1 = Date(timeIntervalSince1970: 1000)
        let t2 = Date(timeIntervalSince1970: 2000)
        let t3 = Date(timeIntervalSince1970: 3000)
        try catalog.write { try $0.recordDaemonRun(job: "policy", name: "web", vm: "web-1", at: t1, outcome: "snapshot a") }
        try catalog.write {
            try $0.recordDaemonRun(job: "policy", name: "web", vm: "web-1", at: t2, outcome: "failed", error: "store full")
        }
        try catalog.write { try $0.recordDaemonRun(job: "policy", name: "web", vm: "web-1", at: t3, outcome: "snapshot b") }
        try catalog.write { try $0.recordDaemonRun(job: "gc", name: "", vm: "", at: t1, outcome: "freed 0 bytes") }
        let runs = try catalog.read { try $0.daemonRuns() }
        #expect(
            runs == [
                DaemonRunRecord(job: "gc", name: "", vm: "", lastRun: t1, outcome: "freed 0 bytes"),
                DaemonRunRecord(
                    job: "policy", name: "web", vm: "web-1", lastRun: t3, outcome: "snapshot b",
                    lastError: "store full", lastErrorAt: t2),
            ])
    }
}
