import AmberCatalog
@testable import AmberCore
import AmberPolicy
import Foundation
import Testing

/// The planner fed from the catalog's packed summaries decides exactly what it decides fed from the snapshot rows,
/// for generated catalogs: ties, protected, in-use, hand-made, foreign and unknown-policy snapshots, several zones,
/// `within` and `max_stored`, rows written by amber and rows written behind its back.
@Suite struct PlanningFastPathTests {
    private struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static let policies = try! PolicySet(
        files: [
            (
                "web.yaml",
                """
                name: web
                vms: ["web-*"]
                schedule: "*:0/15"
                timezone: Europe/Berlin
                max_stored: 4K
                keep: { last: 3, hourly: 5, daily: 7, weekly: 4, monthly: 6, yearly: 2 }
                """
            ),
            (
                "db.yaml",
                """
                name: db
                vms: ["db-*"]
                schedule: hourly
                timezone: America/New_York
                within: 2d
                keep: { daily: 3 }
                """
            ),
            ("lab.yaml", "name: lab\nvms: [\"lab-*\"]\nschedule: daily\n"),
        ], defaultTimeZone: TimeZone(identifier: "UTC")!)

    @Test(arguments: [1, 2, 3] as [UInt64])
    func theSummaryPlanEqualsTheRowPlan(seed: UInt64) throws {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("amber-fastpath-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let catalog = try Catalog(path: directory.appendingPathComponent("catalog.db").path)
        let now = Date(timeIntervalSince1970: 1_795_737_600)
        var random = Generator(state: seed)
        var ids: [String] = []
        try catalog.write { db in
            for vm in ["web-1", "web-2", "db-1", "lab-1", "other"] {
                try db.insertVM(VMRecord(name: vm, config: "{}", created: Date(timeIntervalSince1970: 0)))
                for index in 0..<Int.random(in: 0...400, using: &random) {
                    // Whole quarter hours, so some snapshots share a creation time.
                    let created =
                        now.timeIntervalSince1970 - Double(Int.random(in: 0...40_000, using: &random)) * 900
                        + (Bool.random(using: &random) ? 0 : 0.25)
                    let policy = [vm.hasPrefix("web") ? "web" : vm.hasPrefix("db") ? "db" : "lab", nil, "gone"]
                        .randomElement(using: &random)!
                    let id = "\(vm)-\(index)"
                    ids.append(id)
                    let record = SnapshotRecord(
                        id: id, vm: vm, created: Date(timeIntervalSince1970: created), kind: "full",
                        logicalBytes: 1, storedBytes: Int64.random(in: -5...300, using: &random),
                        pauseMicroseconds: 1, protected: Int.random(in: 0..<20, using: &random) == 0,
                        policy: policy)
                    if Bool.random(using: &random) {
                        try db.insertSnapshot(record)
                    } else {
                        // Behind amber's back: the VM's summary goes stale.
                        try db.statement(
                            """
                            INSERT INTO snapshots (id, vm, created, kind, logical_bytes, stored_bytes, pause_microseconds,
                            protected, policy) VALUES (?, ?, ?, 'full', 1, ?, 1, ?, ?)
                            """
                        ).bind(
                            .text(id), .text(vm), .real(created), .integer(record.storedBytes),
                            .integer(record.protected ? 1 : 0), policy.map { .text($0) }
                        ).run()
                    }
                }
            }
        }
        let users = Dictionary(
            uniqueKeysWithValues: (0..<3).map { index in
                (ids.randomElement(using: &random)!, ["VM clone\(index)"])
            })

        func rowPlan(users: [String: [String]]) throws -> [String: Decision] {
            try catalog.read { db in
                // The rows one by one, as planning read them before the summaries.
                let rows = try db.statement(
                    """
                    SELECT id, vm, created, stored_bytes, protected, policy FROM snapshots ORDER BY vm, created, id
                    """
                ).rows { row in
                    SnapshotInfo(
                        id: row.text(0), vm: row.text(1), createdAt: Date(timeIntervalSince1970: row.double(2)),
                        sizeBytes: UInt64(max(0, row.int64(3))), isProtected: row.int(4) != 0,
                        inUseBy: users[row.text(0)] ?? [], policy: row.optionalText(5))
                }
                let plan = Planner.plan(policies: Self.policies, snapshots: rows, vms: [], now: now)
                return Dictionary(uniqueKeysWithValues: zip(plan.snapshots, plan.decisions).map { ($0.id, $1) })
            }
        }
        let fromRows = try rowPlan(users: users)
        #expect(fromRows.values.contains { $0.action == .prune } && fromRows.values.contains { $0.action == .keep })

        func fromSummaries() throws -> [String: Decision] {
            try catalog.read { db in
                let summaries = try db.planningSummaries(includingIDs: true)
                let snapshots = try SnapshotUserPlaces(users: users).columns(of: summaries, db)
                let plan = Planner.plan(policies: Self.policies, vmSnapshots: snapshots, vms: [], now: now)
                var decisions: [String: Decision] = [:]
                for (vmPlan, summary) in zip(plan.vms, summaries) {
                    for position in vmPlan.verdicts.indices { decisions[summary.ids![position]] = vmPlan.decision(at: position) }
                }
                return decisions
            }
        }
        #expect(try fromSummaries() == fromRows, "stale summaries, built from rows while reading")
        try catalog.write { try $0.refreshPlanningSummaries() }
        #expect(try catalog.read { try $0.staleSummaryVMs() } == [])
        #expect(try fromSummaries() == fromRows, "stored summaries")

        // The batched digest (`amber policy plan`'s default output) counts and names the same decisions; this home
        // has no VM directories, so nothing is in use. One VM is left stale: it is read from its rows.
        try catalog.write { try $0.execute("UPDATE snapshots SET stored_bytes = stored_bytes WHERE vm = 'web-2'") }
        let unused = try rowPlan(users: [:])
        let digest = try PlanDigest.read(
            home: AmberHome(explicit: directory.path), catalog: catalog,
            policies: Self.policies, now: now, listingPrunes: 1_000)
        #expect(
            digest.vms.map(\.vm) == Set(unused.keys.map { String($0.split(separator: "-").dropLast().joined(separator: "-")) }).sorted())
        for vm in digest.vms {
            let expected = unused.filter { $0.key.hasPrefix(vm.vm + "-") }
            #expect(vm.snapshotCount == expected.count, "\(vm.vm)")
            #expect(vm.pruneCount == expected.values.filter { $0.action == .prune }.count, "\(vm.vm)")
            let listed = Dictionary(uniqueKeysWithValues: vm.listedPrunes.map { ($0.id!, $0.decision) })
            #expect(listed == expected.filter { $0.value.action == .prune }, "\(vm.vm): every prune named with its decision")
        }
    }
}
