import AmberCatalog
import AmberCore
import Foundation
import Testing

/// `amber policy plan`, `amber prune` and `amber policy status` through the real binary, over real catalog rows.
@Suite("Policy plan, prune and status", .serialized)
struct PolicyPlanPruneTests {
    /// 2026-11-20 00:00:00 UTC: snapshots hourly from here.
    static let base = Date(timeIntervalSince1970: 1_795_132_800)

    static let policy = """
        name: web
        vms: ["web-*"]
        schedule: hourly
        timezone: UTC
        keep: { last: 2 }
        """

    /// web-1: m0 by hand; s1 (protected), s2 (a clone runs from it), s3, s4, s5, s6 by policy `web`, hourly.
    private func prepare() throws -> PolicyHome {
        let home = try PolicyHome()
        try home.writePolicy("web.yaml", Self.policy)
        try home.addVMDirectory("web-1")
        try home.addVMDirectory("clone1", restoring: "s2")
        var rows: [(id: String, at: Date, policy: String?, protected: Bool)] = [("m0", Self.base, nil, false)]
        for hour in 1...6 {
            rows.append(("s\(hour)", Self.base.addingTimeInterval(Double(hour) * 3600), "web", hour == 1))
        }
        try home.insertSnapshots(vm: "web-1", rows)
        return home
    }

    private struct PlanJSON: Decodable {
        struct Snapshot: Decodable { let id: String; let vm: String; let action: String; let reason: String }
        struct Schedule: Decodable { let policy: String; let vm: String; let due: Bool; let nextRun: Date?; let lastRun: Date? }
        let snapshots: [Snapshot]
        let schedules: [Schedule]
    }

    private func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(type, from: Data(text.utf8))
    }

    @Test func planExplainsEverySnapshotAndTheNextRun() throws {
        let home = try prepare()
        defer { home.remove() }
        let at = "2026-11-20T06:30:00Z"
        let result = try home.amber(["policy", "plan", "--at", at, "--json"])
        try #require(result.status == 0, "\(result.stderr)")
        let plan = try decode(PlanJSON.self, result.stdout)
        let byID = Dictionary(uniqueKeysWithValues: plan.snapshots.map { ($0.id, $0) })
        #expect(plan.snapshots.map(\.id) == ["m0", "s1", "s2", "s3", "s4", "s5", "s6"], "ordered by VM, then time")
        #expect(plan.snapshots.filter { $0.action == "prune" }.map(\.id) == ["s3", "s4"])
        #expect(byID["m0"]?.reason == "kept: taken by hand, policies never prune it")
        #expect(byID["s1"]?.reason == "protected")
        #expect(byID["s2"]?.reason == "in use by VM clone1")
        #expect(byID["s6"]?.reason == "kept by keep-last (#1)")
        #expect(byID["s5"]?.reason == "kept by keep-last (#2)")
        #expect(byID["s3"]?.reason == "pruned: not selected by any keep rule")
        // No amberd run recorded: the last run is the newest snapshot the policy took (06:00); next slot 07:00.
        let web1 = try #require(plan.schedules.first { $0.vm == "web-1" })
        #expect(web1.policy == "web" && !web1.due)
        #expect(web1.lastRun == Self.base.addingTimeInterval(6 * 3600))
        #expect(web1.nextRun == Self.base.addingTimeInterval(7 * 3600))
        #expect(plan.schedules.map(\.vm) == ["web-1"], "clone1 matches no policy")

        // Two hours later one slot is due: amberd would catch it up once.
        let later = try decode(PlanJSON.self, try home.amber(["policy", "plan", "--at", "2026-11-20T08:30:00Z", "--json"]).stdout)
        #expect(later.schedules.first?.due == true)

        let verbose = try home.amber(["policy", "plan", "--at", at, "--verbose"])
        #expect(verbose.status == 0)
        let lines = verbose.stdout.split(separator: "\n").map(String.init)
        #expect(
            lines.contains {
                $0.hasPrefix("s4") && $0.contains("web-1") && $0.contains("2026-11-20T04:00:00Z")
                    && $0.contains("prune") && $0.hasSuffix("pruned: not selected by any keep rule")
            })
        #expect(lines.contains { $0.hasPrefix("s6") && $0.hasSuffix("keep    kept by keep-last (#1)") })
        #expect(lines.contains("7 snapshots: 5 kept, 2 to prune"))
        #expect(lines.contains("web / web-1  2026-11-20T06:00:00Z  2026-11-20T07:00:00Z"))

        // The default output: per VM what keeps how many, and each prune by id.
        let text = try home.amber(["policy", "plan", "--at", at])
        #expect(text.status == 0)
        #expect(
            text.stdout == """
                plan at 2026-11-20T06:30:00Z
                VM web-1 (policy web): 7 snapshots, 5 kept, 2 to prune
                  kept: 2 by keep-last, 1 protected, 1 in use, 1 taken by hand
                  to prune: 2 not selected by any keep rule
                  prune s3  2026-11-20T03:00:00Z  not selected by any keep rule
                  prune s4  2026-11-20T04:00:00Z  not selected by any keep rule
                7 snapshots: 5 kept, 2 to prune

                POLICY / VM  LAST RUN  NEXT RUN
                web / web-1  2026-11-20T06:00:00Z  2026-11-20T07:00:00Z

                """)
        let summary = try home.amber(["policy", "plan", "--at", at, "--summary"])
        #expect(summary.stdout.hasPrefix("plan at 2026-11-20T06:30:00Z\nweb-1: 5 kept, 2 to prune\n7 snapshots: 5 kept, 2 to prune\n"))
    }

    @Test func pruneDeletesExactlyThePlannedRowsAndIsIdempotent() throws {
        let home = try prepare()
        defer { home.remove() }
        let dry = try home.amber(["prune", "--dry-run"])
        try #require(dry.status == 0, "\(dry.stderr)")
        #expect(dry.stdout.contains("would prune s3  web-1  2026-11-20T03:00:00Z  pruned: not selected by any keep rule"))
        #expect(dry.stdout.contains("would prune 2 snapshots, kept 5"))
        #expect(try home.snapshotIDs(vm: "web-1") == ["m0", "s1", "s2", "s3", "s4", "s5", "s6"], "a dry run changes nothing")

        let pruned = try home.amber(["prune", "web-1", "--json"])
        try #require(pruned.status == 0, "\(pruned.stderr)")
        let report = try decode(PruneReport.self, pruned.stdout)
        #expect(report.pruned.map(\.id) == ["s3", "s4"] && report.kept == 5 && !report.dryRun)
        #expect(try home.snapshotIDs(vm: "web-1") == ["m0", "s1", "s2", "s5", "s6"])

        let again = try home.amber(["prune"])
        #expect(again.status == 0)
        #expect(again.stdout == "pruned 0 snapshots, kept 5\n")
        #expect(try home.snapshotIDs(vm: "web-1") == ["m0", "s1", "s2", "s5", "s6"])

        // Once the clone is gone and s1 unprotected, they are the policy's to prune again.
        try FileManager.default.removeItem(at: home.cli.vmDirectory("clone1"))
        #expect(try home.cli.amber(["snapshot", "unprotect", "s1"]).status == 0)
        let freed = try decode(PruneReport.self, try home.amber(["prune", "--json"]).stdout)
        #expect(freed.pruned.map(\.id) == ["s1", "s2"])
        #expect(try home.snapshotIDs(vm: "web-1") == ["m0", "s5", "s6"])
    }

    @Test func pruneOfAnUnknownVMIsAOneLineError() throws {
        let home = try prepare()
        defer { home.remove() }
        let unknown = try home.amber(["prune", "ghost"])
        #expect(unknown.status == 64)
        #expect(unknown.stderr == "error: no VM named ghost (see `amber ps`)\n")
    }

    @Test func badPolicyFilesNameFileLineAndFieldInEveryCommand() throws {
        let home = try prepare()
        defer { home.remove() }
        try home.writePolicy("web.yaml", Self.policy.replacingOccurrences(of: "last: 2", with: "last: -2"))
        let file = home.policies.appendingPathComponent("web.yaml").path
        for command in [["policy", "check"], ["policy", "plan"], ["prune"], ["prune", "--dry-run"]] {
            let result = try home.amber(command)
            #expect(result.status == 65, "\(command)")
            #expect(result.stderr.hasPrefix("error: \(file):5: keep.last: "), "\(command): \(result.stderr)")
            #expect(result.stdout.isEmpty, "\(command)")
        }
        #expect(try home.snapshotIDs(vm: "web-1").count == 7, "nothing pruned")
        let daemon = try AmberdProcess(
            arguments: ["--home", home.cli.root.path, "--policies", home.policies.path],
            log: home.cli.scratch.appendingPathComponent("amberd.log"))
        #expect(daemon.waitForExit(timeout: 30) == 65)
        #expect(daemon.log.contains("\(file):5: keep.last: "), "\(daemon.log)")

        try FileManager.default.removeItem(at: home.policies)
        let missing = try home.amber(["policy", "plan"])
        #expect(missing.status == 65)
        #expect(missing.errorLine.hasPrefix("cannot read policy directory \(home.policies.path): create it"))
    }

    @Test func storeVerifyRebuildsAPlanningSummaryThatDisagreesWithItsRows() throws {
        let home = try prepare()
        defer { home.remove() }
        // Damage the packed summary behind the triggers' back (they watch the snapshot rows, not the summaries).
        try home.catalog().write { db in
            try db.execute("UPDATE snapshot_summaries SET records = zeroblob(length(records)) WHERE vm = 'web-1'")
            #expect(try db.inconsistentPlanningSummaries() == ["web-1"])
        }
        let verify = try home.cli.amber(["store", "verify"])
        #expect(verify.status == 0, "\(verify.stderr)")
        #expect(
            verify.stdout.contains("planning summaries of 1 VM(s) disagreed with their snapshot rows and were rebuilt from them: web-1"),
            "\(verify.stdout)")
        #expect(try home.catalog().read { try $0.inconsistentPlanningSummaries() }.isEmpty)
        let again = try home.cli.amber(["store", "verify"])
        #expect(again.status == 0 && !again.stdout.contains("planning summaries"))
    }

    @Test func statusShowsTheDaemonsRecordedRunsAndNextSlots() throws {
        let home = try prepare()
        defer { home.remove() }
        let now = Date()
        // The last run at this hour's slot (the policy is hourly): its next slot is the next full hour, after
        // `now` whatever minute the test runs in (a run "a minute ago" made the next slot due at xx:00).
        let thisHour = Date(timeIntervalSince1970: (now.timeIntervalSince1970 / 3600).rounded(.down) * 3600)
        try home.catalog().write { db in
            try db.recordDaemonRun(
                job: "policy", name: "web", vm: "web-1", at: thisHour.addingTimeInterval(-7200),
                outcome: "failed", error: "store full")
            try db.recordDaemonRun(
                job: "policy", name: "web", vm: "web-1", at: thisHour,
                outcome: "snapshot s6")
            try db.recordDaemonRun(job: "gc", name: "", vm: "", at: now.addingTimeInterval(-30), outcome: "freed 0 bytes")
        }
        struct Status: Decodable {
            struct Schedule: Decodable {
                let policy: String; let vm: String; let lastRun: Date?; let outcome: String?; let nextRun: Date?
                let due: Bool; let lastError: String?
            }
            struct GC: Decodable { let outcome: String }
            let daemonPID: Int32?
            let schedules: [Schedule]
            let gc: GC?
        }
        let result = try home.amber(["policy", "status", "--json"])
        try #require(result.status == 0, "\(result.stderr)")
        let status = try decode(Status.self, result.stdout)
        #expect(status.daemonPID == nil)
        #expect(status.gc?.outcome == "freed 0 bytes")
        let web1 = try #require(status.schedules.first)
        #expect(status.schedules.count == 1)
        #expect(web1.vm == "web-1" && web1.outcome == "snapshot s6" && web1.lastError == "store full" && !web1.due)
        let nextRun = try #require(web1.nextRun)
        #expect(nextRun > now && nextRun <= now.addingTimeInterval(3600))
        let text = try home.amber(["policy", "status"])
        #expect(text.stdout.hasPrefix("amberd: not running\nweb / web-1: last run "))
        #expect(text.stdout.contains("(snapshot s6), next "))
        #expect(text.stdout.contains(": store full\nstore gc: last run "))
    }
}
