import AmberCommandLine
import AmberCore
import ArgumentParser
import Foundation

/// `amber policy status`: what amberd last did per policy and VM, and what it does next.
struct PolicyStatus: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show amberd's last run, next run and last error per policy and VM, and the last store gc.",
        discussion: "Read from the run history amberd keeps in the catalog; works whether amberd runs or not."
    )

    @OptionGroup var home: HomeOption
    @OptionGroup var policies: PoliciesOption

    @Flag(name: .long, help: "Print the status as JSON.")
    var json = false

    func run() throws {
        let amberHome = home.resolved
        let report = try PolicyStatusReport.read(
            home: amberHome,
            policies: PolicyDirectory.resolve(explicit: policies.policies, home: amberHome))
        if json { return try printJSON(report) }
        print(report.daemonPID.map { "amberd: running (pid \($0))" } ?? "amberd: not running")
        for problem in report.policyErrors { print("policy files invalid (amberd keeps the last good ones): \(problem)") }
        if report.schedules.isEmpty { print("no schedules: no VM is owned by a policy and amberd has no runs recorded") }
        for schedule in report.schedules {
            let next =
                schedule.due
                ? "due now"
                : schedule.nextRun.map(TimeText.utc) ?? (report.policyErrors.isEmpty ? "never" : "unknown")
            print(
                "\(schedule.policy) / \(schedule.vm): last run \(schedule.lastRun.map(TimeText.utc) ?? "never")"
                    + (schedule.outcome.map { " (\($0))" } ?? "") + ", next \(next)"
                    + (schedule.lastError.map { ", last error at \(schedule.lastErrorAt.map(TimeText.utc) ?? "?"): \($0)" } ?? ""))
        }
        if let gc = report.gc {
            print(
                "store gc: last run \(TimeText.utc(gc.lastRun)) (\(gc.outcome))"
                    + (gc.lastError.map { ", last error: \($0)" } ?? ""))
        }
    }
}
