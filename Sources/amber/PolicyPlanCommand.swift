import AmberCatalog
import AmberCore
import AmberPolicy
import ArgumentParser
import Foundation

/// `amber policy plan`: what the policies would snapshot and prune at a given time, and why.
struct PolicyPlan: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plan",
        abstract: "Show, per snapshot, the rule that keeps it or why it would be pruned, and each schedule's next run.",
        discussion: """
        Nothing is changed. Schedules use amberd's recorded last runs (a missed run shows as due: amberd catches it \
        up once). Policies: --policies DIR, else $AMBER_POLICIES, else <home>/policies.
        """
    )

    @OptionGroup var home: HomeOption
    @OptionGroup var policies: PoliciesOption

    @Option(name: .long, help: "Plan as of this time: ISO 8601 (2026-11-27T10:00:00Z) or a host-zone wall time (2026-11-27 10:00).")
    var at: String?

    @Flag(name: .long, help: "Print the plan as JSON.")
    var json = false

    @Flag(name: .long, help: "Per VM, count kept and pruned snapshots instead of listing each one.")
    var summary = false

    func validate() throws {
        if let at, PolicyTimeText.parse(at) == nil {
            throw ValidationError("--at '\(at)': not a time; use ISO 8601 (2026-11-27T10:00:00Z) or 2026-11-27 10:00")
        }
    }

    func run() throws {
        let now = at.flatMap(PolicyTimeText.parse) ?? Date()
        let amberHome = home.resolved
        let set = try policies.load(home: amberHome)
        let catalogExists = FileManager.default.fileExists(atPath: amberHome.catalogFile.path)
        let inputs = try PlanningInputs.read(home: amberHome,
                                             catalog: catalogExists ? try Catalog(path: amberHome.catalogFile.path) : nil)
        let plan = Planner.plan(policies: set, snapshots: inputs.snapshots, vms: inputs.vms, now: now,
                                lastRuns: inputs.lastRuns)
        if json {
            var output = BufferedOutput()
            PlanJSON.write(plan, to: &output)
            return output.flush()
        }
        printText(plan)
    }

    private func printText(_ plan: Plan) {
        var output = BufferedOutput()
        output.line("plan at \(PolicyTimeText.utc(plan.now))")
        if summary {
            printCounts(plan, to: &output)
        } else if !plan.snapshots.isEmpty {
            let vmWidth = max(2, plan.snapshots.lazy.map(\.vm.utf8.count).max() ?? 0)
            let idWidth = max(8, plan.snapshots.lazy.map(\.id.utf8.count).max() ?? 0)
            output.line(Self.pad("SNAPSHOT", idWidth) + "  " + Self.pad("VM", vmWidth) + "  CREATED               ACTION  REASON")
            for (snapshot, decision) in zip(plan.snapshots, plan.decisions) {
                output.append(Self.pad(snapshot.id, idWidth))
                output.append("  ")
                output.append(Self.pad(snapshot.vm, vmWidth))
                output.append("  ")
                output.appendUTC(snapshot.createdAt)
                output.append(decision.action == .keep ? "  keep    " : "  prune   ")
                output.line(decision.description)
            }
        }
        let pruned = plan.decisions.lazy.filter { $0.action == .prune }.count
        output.line("\(plan.snapshots.count) snapshots: \(plan.snapshots.count - pruned) kept, \(pruned) to prune")
        if plan.schedules.isEmpty {
            output.line("no VM is owned by a policy")
        } else {
            output.line("")
            output.line("POLICY / VM  LAST RUN  NEXT RUN")
            for schedule in plan.schedules {
                let next = schedule.nextRun.map(PolicyTimeText.utc) ?? "never"
                output.line("\(schedule.policy) / \(schedule.vm)  \(schedule.lastRun.map(PolicyTimeText.utc) ?? "never")  "
                    + (schedule.isDue ? "due now (slot \(next))" : next))
            }
        }
        for conflict in plan.conflicts { output.line("conflict: \(conflict)") }
        output.flush()
    }

    /// Snapshots come grouped by VM, so counting is one comparison with the previous VM per snapshot.
    private func printCounts(_ plan: Plan, to output: inout BufferedOutput) {
        var index = 0
        while index < plan.snapshots.count {
            let vm = plan.snapshots[index].vm
            var kept = 0
            var pruned = 0
            while index < plan.snapshots.count, plan.snapshots[index].vm == vm {
                if plan.decisions[index].action == .prune { pruned += 1 } else { kept += 1 }
                index += 1
            }
            output.line("\(vm): \(kept) kept, \(pruned) to prune")
        }
    }

    private static func pad(_ text: String, _ width: Int) -> String {
        let count = text.utf8.count
        return count >= width ? text : text + String(repeating: " ", count: width - count)
    }
}
