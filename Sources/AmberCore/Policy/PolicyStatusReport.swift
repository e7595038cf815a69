import AmberCatalog
import AmberPolicy
import AmberSystem
import Foundation

/// What `amber policy status` shows: amberd's recorded runs (catalog table `daemon_runs`) with each schedule's
/// next slot under the current policies, whether amberd runs, and the last store gc. JSON field names are part
/// of Amber's interface.
public struct PolicyStatusReport: Encodable, Sendable {
    public struct Schedule: Encodable, Sendable {
        public var policy: String
        public var vm: String
        public var lastRun: Date?
        public var outcome: String?
        public var nextRun: Date?
        public var due: Bool
        public var lastError: String?
        public var lastErrorAt: Date?
    }

    public struct GC: Encodable, Sendable {
        public var lastRun: Date
        public var outcome: String
        public var lastError: String?
        public var lastErrorAt: Date?
    }

    public var daemonPID: Int32?
    public var policyErrors: [String]
    public var schedules: [Schedule]
    public var gc: GC?

    public static func read(home: AmberHome, policies directory: PolicyDirectory, now: Date = Date()) throws -> PolicyStatusReport {
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
        let policyRuns = Dictionary(
            runs.filter { $0.job == DaemonRunRecord.policyJob }.map { ("\($0.name)\n\($0.vm)", $0) },
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
            var schedule = Schedule(
                policy: name, vm: vm, lastRun: run?.lastRun, outcome: run?.outcome, nextRun: nil,
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
        return PolicyStatusReport(
            daemonPID: FileLock.holder(of: PolicyDaemon.lockPath(home: home)),
            policyErrors: policyErrors, schedules: schedules, gc: gc)
    }
}
