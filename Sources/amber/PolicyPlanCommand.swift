import AmberCatalog
import AmberCore
import AmberPolicy
import ArgumentParser
import Foundation

/// `amber policy plan`: what the policies would snapshot and prune at a given time, and why.
struct PolicyPlan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show, per VM, what the policies keep (by which rule) and would prune, and each schedule's next run.",
        discussion: """
            Nothing is changed. Per VM: counts of what each rule keeps and the snapshots it would prune (the newest \
            \(PlanText.listedPrunes) by id); --verbose lists every snapshot with its reason, --json too. Schedules use \
            amberd's recorded last runs (a missed run shows as due: amberd catches it up once). Policies: --policies DIR, \
            else $AMBER_POLICIES, else <home>/policies.
            """
    )

    @OptionGroup var home: HomeOption
    @OptionGroup var policies: PoliciesOption

    @Option(name: .long, help: "Plan as of this time: ISO 8601 (2026-11-27T10:00:00Z) or a host-zone wall time (2026-11-27 10:00).")
    var at: String?

    @Flag(name: .long, help: "Print the plan as JSON (every snapshot with its action and reason).")
    var json = false

    @Flag(name: .long, help: "Per VM, only count kept and pruned snapshots.")
    var summary = false

    @Flag(name: .long, help: "List every snapshot with its action and reason.")
    var verbose = false

    func validate() throws {
        if let at, TimeText.parse(at) == nil {
            throw ValidationError("--at '\(at)': not a time; use ISO 8601 (2026-11-27T10:00:00Z) or 2026-11-27 10:00")
        }
        if [json, summary, verbose].filter({ $0 }).count > 1 {
            throw ValidationError("--json, --summary and --verbose choose the output; give one of them")
        }
    }

    func run() throws {
        let now = at.flatMap(TimeText.parse) ?? Date()
        let amberHome = home.resolved
        let set = try policies.load(home: amberHome)
        let catalogExists = FileManager.default.fileExists(atPath: amberHome.catalogFile.path)
        let catalog = catalogExists ? try Catalog(path: amberHome.catalogFile.path) : nil
        var output = BufferedOutput()
        guard json || verbose else {
            // Counts and a few prunes per VM: planned in batches without keeping every snapshot's columns.
            let digest = try PlanDigest.read(
                home: amberHome, catalog: catalog, policies: set, now: now,
                listingPrunes: summary ? 0 : PlanText.listedPrunes)
            output.line("plan at \(TimeText.utc(now))")
            if summary { PlanText.writeCounts(digest.vms, to: &output) } else { PlanText.writePerVM(digest.vms, to: &output) }
            PlanText.writeTotals(
                snapshots: digest.snapshotCount, pruned: digest.pruneCount, schedules: digest.schedules,
                conflicts: digest.conflicts, to: &output)
            return output.flush()
        }
        let inputs = try PlanningInputs.read(home: amberHome, catalog: catalog, includingIDs: true)
        let plan = Planner.plan(
            policies: set, vmSnapshots: inputs.snapshots, vms: inputs.vms, now: now,
            lastRuns: inputs.lastRuns)
        let ids = inputs.summaries.map { $0.ids! }
        if json {
            PlanJSON.write(plan, ids: ids, to: &output)
        } else {
            output.line("plan at \(TimeText.utc(now))")
            PlanText.writeEverySnapshot(plan, ids: ids, to: &output)
            PlanText.writeTotals(
                snapshots: plan.snapshotCount, pruned: plan.pruneCount, schedules: plan.schedules,
                conflicts: plan.conflicts, to: &output)
        }
        output.flush()
    }
}
