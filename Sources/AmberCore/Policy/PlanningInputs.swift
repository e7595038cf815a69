import AmberCatalog
import AmberPolicy
import Foundation

/// What the planner needs from an Amber home: the stored snapshots (with what uses them), the VMs that exist and
/// when amberd last ran each schedule.
public struct PlanningInputs: Sendable {
    /// Ordered by VM, then creation time (the planner's fast path).
    public var snapshots: [SnapshotInfo]
    /// VMs with a directory under the home: the ones a schedule can snapshot.
    public var vms: [String]
    public var lastRuns: [ScheduleKey: Date]

    /// Reads everything in one catalog read transaction (one consistent view); `vm` narrows it to one VM.
    /// `catalog` nil (no catalog yet) means no snapshots and no runs.
    public static func read(home: AmberHome, catalog: Catalog?, vm: String? = nil) throws -> PlanningInputs {
        let users = SnapshotUsers.read(home: home)
        let directories = VMNames.existing(home: home)
        let vms = vm.map { name in directories.filter { $0 == name } } ?? directories
        guard let catalog else { return PlanningInputs(snapshots: [], vms: vms, lastRuns: [:]) }
        return try catalog.read { db in
            PlanningInputs(snapshots: try snapshots(db, vm: vm, users: users), vms: vms,
                           lastRuns: try lastRuns(db))
        }
    }

    static func snapshots(_ db: SQLiteConnection, vm: String?, users: [String: [String]]) throws -> [SnapshotInfo] {
        try db.planningRows(vm: vm) { row in
            SnapshotInfo(id: row.id, vm: row.vm, createdAt: row.created, sizeBytes: UInt64(max(0, row.storedBytes)),
                         isProtected: row.protected, inUseBy: users.isEmpty ? [] : users[row.id] ?? [], policy: row.policy)
        }
    }

    /// When amberd last ran each policy's schedule for each VM (a skipped or failed run counts).
    static func lastRuns(_ db: SQLiteConnection) throws -> [ScheduleKey: Date] {
        var runs: [ScheduleKey: Date] = [:]
        for run in try db.daemonRuns() where run.job == DaemonRunRecord.policyJob {
            runs[ScheduleKey(policy: run.name, vm: run.vm)] = run.lastRun
        }
        return runs
    }
}
