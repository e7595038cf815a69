import AmberCatalog
import AmberCore
import AmberTestSupport
import Foundation
import Testing

/// A damaged planning summary through the real `amber` binary: its count of 9e17 overflowed (a trap)
/// when the bytes it needs were worked out. A summary is a cache of the snapshot rows, so one that
/// cannot be read is built from the rows instead, and `verify` rebuilds it.
@Suite("Crafted planning summary", .serialized, .enabled(if: AmberBinary.exists, "build the amber binary first: swift build"))
struct CraftedPlanningSummaryTests {
    @Test func aSummaryCountOf9e17IsReadFromTheRowsAndRebuiltByVerify() throws {
        let home = try PolicyHome()
        defer { home.remove() }
        try home.writePolicy("web.yaml", PolicyPlanPruneTests.policy)
        try home.addVMDirectory("web-1")
        try home.insertSnapshots(
            vm: "web-1",
            (1...4).map { hour in
                ("s\(hour)", PolicyPlanPruneTests.base.addingTimeInterval(Double(hour) * 3600), "web", false)
            })
        let plan = ["policy", "plan", "--at", "2026-11-20T06:30:00Z", "--json"]
        let expected = try home.amber(plan)
        try #require(expected.status == 0, "\(expected.stderr)")

        try home.catalog().write { try $0.execute("UPDATE snapshot_summaries SET count = 900000000000000000 WHERE vm = 'web-1'") }
        for (arguments, name) in [(plan, "policy plan"), (["prune", "--dry-run"], "prune")] {
            let result = try home.amber(arguments)
            #expect(!result.killedBySignal && result.status == 0, "\(name): \(result.status) \(result.stderr)")
            if name == "policy plan" { #expect(result.stdout == expected.stdout) }
        }
        let verify = try home.cli.amber(["store", "verify"])
        #expect(!verify.killedBySignal && verify.status == 0, "verify: \(verify.status) \(verify.stderr)")
        #expect(verify.stdout.contains("were rebuilt from them: web-1"), "\(verify.stdout)")
        #expect(try home.catalog().read { try $0.inconsistentPlanningSummaries() }.isEmpty)
        #expect(try home.amber(plan).stdout == expected.stdout)
    }

    /// A creation time of 1e300 in a snapshot row overflowed the planner's conversion to whole seconds.
    @Test func anImpossibleCreationTimeIsAOneLineErrorNamingTheSnapshot() throws {
        let home = try PolicyHome()
        defer { home.remove() }
        try home.writePolicy("web.yaml", PolicyPlanPruneTests.policy)
        try home.addVMDirectory("web-1")
        try home.insertSnapshots(
            vm: "web-1",
            (1...3).map { hour in
                ("s\(hour)", PolicyPlanPruneTests.base.addingTimeInterval(Double(hour) * 3600), "web", false)
            })
        try home.catalog().write { try $0.execute("UPDATE snapshots SET created = 1e300 WHERE id = 's2'") }
        let needles = ["snapshot s2", "amber snapshot rm s2"]
        expectRefusal(try home.amber(["policy", "plan", "--at", "2026-11-20T06:30:00Z"]), "policy plan", mentioning: needles)
        expectRefusal(try home.amber(["prune", "--dry-run"]), "prune", mentioning: needles)
        #expect(try home.cli.amber(["snapshot", "rm", "s2"]).status == 0)
        let plan = try home.amber(["policy", "plan", "--at", "2026-11-20T06:30:00Z"])
        #expect(plan.status == 0, "\(plan.stderr)")
    }
}
