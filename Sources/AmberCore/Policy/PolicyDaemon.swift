import AmberCatalog
import AmberPolicy
import AmberSystem
import Foundation

/// amberd's scheduler: runs each policy's schedule against the VMs it owns, one job at a time.
///
/// - A slot that passed while amberd was down is caught up once on start (however many passed): the last run of
///   every schedule is kept in the catalog (`daemon_runs`), and a schedule is due when a slot has passed since it.
/// - Jobs run one after another on this thread, so one VM never has two snapshot jobs at once; a second amberd on
///   the same home is refused (`<home>/amberd.lock`).
/// - A VM that is not running is skipped with a log line; a failed snapshot is logged and retried at the next
///   slot; neither stops the other schedules. Each snapshot is followed by a prune of its VM.
/// - The policy directory is re-read when it changes; an invalid version is reported and the last good one keeps
///   running.
/// - Between jobs the thread sleeps in poll(2) until the next slot, a policy change or a stop request.
public final class PolicyDaemon {
    public struct Configuration: Sendable {
        public var home: AmberHome
        public var policies: PolicyDirectory
        /// When to run `store gc`; nil: never.
        public var gcSchedule: CalendarEvent?
        /// Longest single sleep. Sleeping is measured on the monotonic clock while slots are wall-clock times, so
        /// waking now and then bounds how late a slot runs after the wall clock is stepped (NTP, suspend).
        public var maxSleep: TimeInterval = 300

        public init(home: AmberHome, policies: PolicyDirectory, gcSchedule: CalendarEvent?) {
            self.home = home
            self.policies = policies
            self.gcSchedule = gcSchedule
        }
    }

    public static let defaultGCSchedule = "*-*-* 03:00"

    private let configuration: Configuration
    private let log: DaemonLog
    private let waker: DaemonWaker
    /// Held for the daemon's life: one amberd per home.
    private let lock: FileLock
    private let context: StoreContext
    private let startTime: Date
    private let reloader: PolicyReloader
    private var policies: PolicySet { reloader.policies }
    private var reportedConflicts: [PolicyConflict] = []
    /// When a schedule without any recorded run was first seen: its first slot is the first one after this.
    private var firstSeen: [ScheduleKey: Date] = [:]
    /// Without a recorded gc, the first gc slot is the first one after the daemon started.
    private let gcFirstSeen: Date

    /// Takes the home's daemon lock and reads the policies; throws (nothing started) when another amberd runs on
    /// the home or the policy files are invalid.
    public init(configuration: Configuration, log: DaemonLog, waker: DaemonWaker) throws {
        self.configuration = configuration
        self.log = log
        self.waker = waker
        context = try StoreContext(home: configuration.home)
        let lockPath = Self.lockPath(home: configuration.home)
        do {
            lock = try FileLock(exclusive: lockPath, creating: true)
        } catch FileLock.Failure.alreadyLocked {
            throw DaemonError.alreadyRunning(home: configuration.home.root.path, pid: FileLock.holder(of: lockPath))
        }
        reloader = try PolicyReloader(directory: configuration.policies)
        startTime = Date()
        gcFirstSeen = startTime
    }

    public static func lockPath(home: AmberHome) -> String {
        home.root.appendingPathComponent("amberd.lock").path
    }

    /// Runs until a stop is requested; the job in progress then finishes and no new one starts.
    public func run() {
        let gcText = configuration.gcSchedule.map { "'\($0)'" } ?? "never"
        log(
            "amberd started: home \(configuration.home.root.path), policies \(configuration.policies.path) "
                + "(\(describe(policies))), store gc \(gcText)")
        announce(policies)
        waker.watch(directory: configuration.policies.path)
        while !waker.stopRequested {
            reloadPoliciesIfChanged()
            let wake = runDueJobs()
            if waker.stopRequested { break }
            let deadline =
                wake.map { min($0, Date().addingTimeInterval(configuration.maxSleep)) }
                ?? Date().addingTimeInterval(configuration.maxSleep)
            if waker.wait(until: deadline) == .stop { break }
        }
        log("amberd stopping: stop requested, no job in progress")
    }

    /// Runs every due job; returns when the next one is due.
    private func runDueJobs() -> Date? {
        let now = Date()
        let vms = VMNames.existing(home: configuration.home)
        let recorded: [ScheduleKey: Date]
        do {
            recorded = try context.catalog.read { try PlanningInputs.lastRuns($0) }
        } catch {
            log("cannot read the daemon's run history from the catalog: \(error); retrying in a minute")
            return now.addingTimeInterval(60)
        }
        var lastRuns: [ScheduleKey: Date] = [:]
        for vm in vms {
            guard case .policy(let policy) = policies.ownership(of: vm) else { continue }
            let key = ScheduleKey(policy: policy.name, vm: vm)
            if let run = recorded[key] ?? newestSnapshot(of: vm, by: policy.name) {
                lastRuns[key] = run
            } else {
                lastRuns[key] = firstSeen[key] ?? now
                firstSeen[key] = lastRuns[key]
            }
        }
        let plan = Planner.plan(policies: policies, snapshots: [], vms: vms, now: now, lastRuns: lastRuns)
        reportConflicts(plan.conflicts)
        for schedule in plan.schedules where schedule.isDue {
            if waker.stopRequested { return nil }
            guard let policy = policies.policies.first(where: { $0.name == schedule.policy }) else { continue }
            run(schedule, policy: policy, now: now)
        }
        if waker.stopRequested { return nil }
        collectGarbageIfDue()
        return nextWake()
    }

    private func run(_ schedule: ScheduleStatus, policy: Policy, now: Date) {
        let key = ScheduleKey(policy: policy.name, vm: schedule.vm)
        let start = Date()
        if let lastRun = schedule.lastRun, let slot = schedule.nextRun, slot < startTime, firstSeen[key] == nil {
            let missed = Self.slots(of: policy, after: lastRun, upTo: now)
            log(
                "catch-up run for policy \(policy.name), VM \(schedule.vm): \(missed) missed while amberd was down "
                    + "(last run \(DaemonLog.timestamp(lastRun))); running once")
        }
        let state = VMManager(home: configuration.home).summary(of: configuration.home.vm(schedule.vm)).state
        guard state == .running || state == .paused else {
            log("policy \(policy.name): VM \(schedule.vm) is not running (\(state.rawValue)); skipped until the next slot")
            record(key, at: start, outcome: "skipped: VM not running (\(state.rawValue))")
            return
        }
        log("policy \(policy.name): snapshotting VM \(schedule.vm)")
        let snapshot: SnapshotSummary
        do {
            snapshot = try takeRetryingWhileBusy(vm: schedule.vm, policy: policy)
        } catch {
            let next = policy.schedule.next(after: start, in: policy.timeZone).map(DaemonLog.timestamp) ?? "never"
            log("policy \(policy.name): snapshot of VM \(schedule.vm) failed: \(error); retrying at the next slot (\(next))")
            record(key, at: start, outcome: "failed", error: "\(error)")
            return
        }
        log(
            "policy \(policy.name): snapshot \(snapshot.id) of VM \(schedule.vm) taken (paused "
                + "\(String(format: "%.1f", snapshot.pauseMilliseconds)) ms, \(snapshot.storedBytes) bytes stored)")
        record(key, at: start, outcome: "snapshot \(snapshot.id)")
        prune(vm: schedule.vm)
    }

    /// Seconds a scheduled snapshot waits, in all, for a VM busy with another snapshot (by hand, or a
    /// rollback) before the slot counts as failed: longer than a snapshot's pause limit.
    static let busyRetryWindow = 30.0

    /// Takes the slot's snapshot; while amber-vmm answers that another one is in progress (a refusal
    /// whose code is transient), tries again once a second within `busyRetryWindow`.
    private func takeRetryingWhileBusy(vm: String, policy: Policy) throws -> SnapshotSummary {
        let deadline = Date().addingTimeInterval(Self.busyRetryWindow)
        while true {
            do {
                return try SnapshotService(home: configuration.home).take(vm: vm, policy: policy.name, memory: policy.memory)
            } catch let error as VMLifecycleError where error.refusal?.isTransient == true && Date() < deadline && !waker.stopRequested {
                log("policy \(policy.name): VM \(vm) is busy (\(error.refusal?.message ?? "")); trying again in a second")
                sleep(1)
            }
        }
    }

    private func prune(vm: String) {
        do {
            let report = try PruneService(home: configuration.home).prune(policies: policies, vm: vm, dryRun: false)
            for entry in report.pruned {
                let reason = entry.reason.hasPrefix("pruned: ") ? String(entry.reason.dropFirst(8)) : entry.reason
                log("pruned snapshot \(entry.id) of VM \(vm) (\(DaemonLog.timestamp(entry.createdAt))): \(reason)")
            }
        } catch {
            log("prune of VM \(vm) failed: \(error); retrying after its next snapshot")
        }
    }

    private func collectGarbageIfDue() {
        guard let schedule = configuration.gcSchedule, let next = nextGC(schedule), next <= Date() else { return }
        let start = Date()
        do {
            let log = self.log
            let report = try StoreGCChild.collectGarbage(home: configuration.home) { log("store gc: \($0)") }
            // Recorded first: whoever reads the log line can see the run in `amber policy status`.
            recordGC(at: start, outcome: "freed \(report.bytesFreed) bytes", error: nil)
            log(
                "store gc: freed \(report.bytesFreed) bytes (\(report.deadChunks) dead chunks, \(report.packsDeleted) "
                    + "packs deleted, \(report.packsRewritten) rewritten)")
        } catch {
            log("store gc failed: \(error); retrying at the next gc slot")
            recordGC(at: start, outcome: "failed", error: "\(error)")
        }
    }

    private func nextGC(_ schedule: CalendarEvent) -> Date? {
        let lastRun =
            (try? context.catalog.read { db in
                try db.daemonRuns().first { $0.job == DaemonRunRecord.gcJob }?.lastRun
            }) ?? nil
        return schedule.next(after: lastRun ?? gcFirstSeen, in: .current)
    }

    /// The earliest of: any schedule's next slot (a due one: now), any policy's next slot (a VM created meanwhile
    /// is seen then), the next gc.
    private func nextWake() -> Date? {
        let now = Date()
        var candidates: [Date] = policies.policies.compactMap { $0.schedule.next(after: now, in: $0.timeZone) }
        if let schedule = configuration.gcSchedule, let gc = nextGC(schedule) { candidates.append(gc) }
        let recorded = (try? context.catalog.read { try PlanningInputs.lastRuns($0) }) ?? [:]
        for (key, lastRun) in recorded.merging(firstSeen, uniquingKeysWith: { recorded, _ in recorded }) {
            guard let policy = policies.policies.first(where: { $0.name == key.policy }), policy.applies(to: key.vm),
                configuration.home.vm(key.vm).exists,
                let next = policy.schedule.next(after: lastRun, in: policy.timeZone)
            else { continue }
            candidates.append(next)
        }
        return candidates.min()
    }

    private func newestSnapshot(of vm: String, by policy: String) -> Date? {
        (try? context.catalog.read { try $0.newestSnapshotTime(vm: vm, policy: policy) }) ?? nil
    }

    private func record(_ key: ScheduleKey, at time: Date, outcome: String, error: String? = nil) {
        firstSeen[key] = nil
        do {
            try context.catalog.write {
                try $0.recordDaemonRun(
                    job: DaemonRunRecord.policyJob, name: key.policy, vm: key.vm, at: time,
                    outcome: outcome, error: error)
            }
        } catch {
            log("cannot record the run of policy \(key.policy) for VM \(key.vm) in the catalog: \(error)")
        }
    }

    private func recordGC(at time: Date, outcome: String, error: String?) {
        do {
            try context.catalog.write {
                try $0.recordDaemonRun(job: DaemonRunRecord.gcJob, name: "", vm: "", at: time, outcome: outcome, error: error)
            }
        } catch {
            log("cannot record the store gc run in the catalog: \(error)")
        }
    }

    private func reloadPoliciesIfChanged() {
        switch reloader.reload() {
        case .unchanged:
            break
        case .reloaded:
            log("policies reloaded from \(configuration.policies.path): \(describe(policies))")
            announce(policies)
        case .rejected(let errors):
            log(
                "policy files in \(configuration.policies.path) are invalid; keeping the last good policies "
                    + "(\(describe(policies))):")
            for problem in errors.errors { log("  \(problem)") }
        case .unreadable(let error):
            log("\(error); keeping the last good policies (\(describe(policies)))")
        }
    }

    private func announce(_ set: PolicySet) {
        if set.policies.isEmpty {
            log("no policies in \(configuration.policies.path) yet; waiting for *.yaml files")
        }
    }

    private func reportConflicts(_ conflicts: [PolicyConflict]) {
        guard conflicts != reportedConflicts else { return }
        for conflict in conflicts where !reportedConflicts.contains(conflict) {
            log("\(conflict); it is neither snapshotted nor pruned")
        }
        reportedConflicts = conflicts
    }

    private func describe(_ set: PolicySet) -> String {
        set.policies.isEmpty ? "no policies" : set.policies.map(\.name).joined(separator: ", ")
    }

    /// How many slots of the policy's schedule fell in (after, upTo], as text ("3 slots", "over 1000 slots").
    static func slots(of policy: Policy, after: Date, upTo: Date) -> String {
        var count = 0
        var cursor = after
        while count <= 1000, let next = policy.schedule.next(after: cursor, in: policy.timeZone), next <= upTo {
            count += 1
            cursor = next
        }
        if count > 1000 { return "over 1000 slots" }
        return count == 1 ? "1 slot" : "\(count) slots"
    }
}

public enum DaemonError: Error, CustomStringConvertible {
    case alreadyRunning(home: String, pid: Int32?)

    public var description: String {
        switch self {
        case .alreadyRunning(let home, let pid):
            return "amberd is already running for \(home)\(pid.map { " (pid \($0))" } ?? ""); stop it first or use "
                + "another --home"
        }
    }
}
