import AmberCatalog
import AmberPolicy
import Foundation

/// What the planner needs from an Amber home: the stored snapshots per VM (with what uses them), the VMs that exist
/// and when amberd last ran each schedule.
public struct PlanningInputs: Sendable {
    /// Per VM, ordered by VM name; each VM's snapshots in creation order (the planner's fast path).
    public var snapshots: [VMSnapshots]
    /// The catalog's summaries the snapshots came from (same order), with every id when asked for.
    public var summaries: [SnapshotPlanningSummary]
    /// VMs with a directory under the home: the ones a schedule can snapshot.
    public var vms: [String]
    public var lastRuns: [ScheduleKey: Date]

    /// Reads everything in one catalog read transaction (one consistent view); `vm` narrows it to one VM.
    /// `catalog` nil (no catalog yet) means no snapshots and no runs. Summaries the catalog marks stale (rows changed
    /// by a tool that is not amber, or a catalog just migrated) are rebuilt first, in a write transaction of their
    /// own; if that fails the read builds them from the rows.
    public static func read(home: AmberHome, catalog: Catalog?, vm: String? = nil,
                            includingIDs: Bool = false) throws -> PlanningInputs {
        try read(home: home, catalog: catalog, vm: vm, includingIDs: includingIDs) { inputs, _ in inputs }
    }

    /// Like `read(home:catalog:vm:includingIDs:)`, then runs `body` in the same read transaction with a lookup of
    /// single snapshot ids by VM and position (for outputs that name a few snapshots without reading every id).
    public static func read<T>(home: AmberHome, catalog: Catalog?, vm: String? = nil, includingIDs: Bool = false,
                               then body: (PlanningInputs, _ idAt: (_ vm: Int, _ position: Int) throws -> String?) throws -> T)
        throws -> T {
        let users = SnapshotUsers.read(home: home)
        let directories = VMNames.existing(home: home)
        let vms = vm.map { name in directories.filter { $0 == name } } ?? directories
        guard let catalog else {
            return try body(PlanningInputs(snapshots: [], summaries: [], vms: vms, lastRuns: [:])) { _, _ in nil }
        }
        if try catalog.read({ try $0.planningSummariesNeedRefresh() }) {
            try? catalog.write { try $0.refreshPlanningSummaries() }
        }
        return try catalog.read { db in
            var inputs = try snapshots(db, vm: vm, users: users, includingIDs: includingIDs)
            inputs.vms = vms
            inputs.lastRuns = try lastRuns(db)
            return try body(inputs) { try db.snapshotID(in: inputs.summaries[$0], at: $1) }
        }
    }

    /// The snapshots (of one VM when `vm` is given) as the planner takes them, read in the caller's transaction.
    static func snapshots(_ db: SQLiteConnection, vm: String?, users: [String: [String]],
                          includingIDs: Bool) throws -> PlanningInputs {
        let summaries = try db.planningSummaries(vm: vm, includingIDs: includingIDs)
        var snapshots = summaries.map {
            VMSnapshots(vm: $0.vm, created: $0.created, sizes: $0.storedBytes, protected: $0.protected,
                        policy: $0.policy, policyNames: $0.policyNames)
        }
        // Few snapshots are in use (one per rolled-back or cloned VM): find each by id rather than scan every id.
        let vmIndex = Dictionary(summaries.indices.map { (summaries[$0].vm, $0) }, uniquingKeysWith: { first, _ in first })
        for (id, usedBy) in users {
            guard let place = try db.snapshotPlace(id: id), let index = vmIndex[place.vm],
                  let position = summaries[index].position(created: place.created, tieOffset: place.tieOffset)
            else { continue }
            snapshots[index].inUseBy[position] = usedBy
        }
        return PlanningInputs(snapshots: snapshots, summaries: summaries, vms: [], lastRuns: [:])
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
