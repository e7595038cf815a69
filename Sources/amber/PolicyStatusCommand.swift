import AmberCatalog
import AmberCore
import AmberPolicy
import AmberSystem
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
        try StoreCLI.reportingErrors {
            let report = try PolicyStatusReport.read(home: amberHome,
                                                     policies: PolicyDirectory.resolve(explicit: policies.policies, home: amberHome))
            if json { return try StoreCLI.printJSON(report) }
            print(report.daemonPID.map { "amberd: running (pid \($0))" } ?? "amberd: not running")
            for problem in report.policyErrors { print("policy files invalid (amberd keeps the last good ones): \(problem)") }
            if report.schedules.isEmpty { print("no schedules: no VM is owned by a policy and amberd has no runs recorded") }
            for schedule in report.schedules {
                let next = schedule.due ? "due now"
                    : schedule.nextRun.map(PolicyTimeText.utc) ?? (report.policyErrors.isEmpty ? "never" : "unknown")
                print("\(schedule.policy) / \(schedule.vm): last run \(schedule.lastRun.map(PolicyTimeText.utc) ?? "never")"
                    + (schedule.outcome.map { " (\($0))" } ?? "") + ", next \(next)"
                    + (schedule.lastError.map { ", last error at \(schedule.lastErrorAt.map(PolicyTimeText.utc) ?? "?"): \($0)" } ?? ""))
            }
            if let gc = report.gc {
                print("store gc: last run \(PolicyTimeText.utc(gc.lastRun)) (\(gc.outcome))"
                    + (gc.lastError.map { ", last error: \($0)" } ?? ""))
            }
        }
    }
}

struct PolicyStatusReport: Encodable {
    struct Schedule: Encodable {
        var policy: String
        var vm: String
        var lastRun: Date?
        var outcome: String?
        var nextRun: Date?
        var due: Bool
        var lastError: String?
        var lastErrorAt: Date?
    }

    struct GC: Encodable {
        var lastRun: Date
        var outcome: String
        var lastError: String?
        var lastErrorAt: Date?
    }

    var daemonPID: Int32?
    var policyErrors: [String]
    var schedules: [Schedule]
    var gc: GC?

    static func read(home: AmberHome, policies directory: PolicyDirectory, now: Date = Date()) throws -> PolicyStatusReport {
        var policyErrors: [String] = []
        var set: PolicySet?
        do {
            set = try directory.load()
        } catch let errors as PolicyErrors {
            policyErrors = errors.errors.map(\.description)
        } catch {
            policyErrors = ["\(error)"]
        }
        let catalog = FileManager.default.fileExists(atPath: home.catalogFile.path) ? try Catalog(path: home.catalogFile.path) : nil
        let runs = try catalog?.read { try $0.daemonRuns() } ?? []
        let policyRuns = Dictionary(runs.filter { $0.job == DaemonRunRecord.policyJob }.map { ("\($0.name)\n\($0.vm)", $0) },
                                    uniquingKeysWith: { first, _ in first })
        var keys = policyRuns.values.map { ($0.name, $0.vm) }
        if let set {
            for vm in VMNames.existing(home: home) {
                if case .policy(let policy) = set.ownership(of: vm), policyRuns["\(policy.name)\n\(vm)"] == nil {
                    keys.append((policy.name, vm))
                }
            }
        }
        var schedules: [Schedule] = []
        for (name, vm) in keys.sorted(by: { ($0.0, $0.1) < ($1.0, $1.1) }) {
            let run = policyRuns["\(name)\n\(vm)"]
            var schedule = Schedule(policy: name, vm: vm, lastRun: run?.lastRun, outcome: run?.outcome, nextRun: nil,
                                    due: false, lastError: run?.lastError, lastErrorAt: run?.lastErrorAt)
            if let policy = set?.policies.first(where: { $0.name == name }), policy.applies(to: vm) {
                let lastRun = try run?.lastRun ?? catalog?.read { try $0.newestSnapshotTime(vm: vm, policy: name) }
                let next = policy.schedule.next(after: lastRun ?? now, in: policy.timeZone)
                schedule.nextRun = next
                schedule.due = lastRun != nil && next.map { $0 <= now } == true
            }
            schedules.append(schedule)
        }
        let gc = runs.first { $0.job == DaemonRunRecord.gcJob }.map {
            GC(lastRun: $0.lastRun, outcome: $0.outcome, lastError: $0.lastError, lastErrorAt: $0.lastErrorAt)
        }
        return PolicyStatusReport(daemonPID: FileLock.holder(of: PolicyDaemon.lockPath(home: home)),
                                  policyErrors: policyErrors, schedules: schedules, gc: gc)
    }
}
