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
    /// `catalog` nil (no catalog yet) means no snapshots and no runs.
    public static func read(
        home: AmberHome, catalog: Catalog?, vm: String? = nil,
        includingIDs: Bool = false
    ) throws -> PlanningInputs {
        try withCatalogView(home: home, catalog: catalog, vm: vm) { view, db in
            guard let db else { return PlanningInputs(snapshots: [], summaries: [], vms: view.vms, lastRuns: [:]) }
            let summaries = try db.planningSummaries(vm: vm, includingIDs: includingIDs)
            return PlanningInputs(
                snapshots: try view.users.columns(of: summaries, db), summaries: summaries,
                vms: view.vms, lastRuns: try lastRuns(db))
        }
    }

    /// The home's view of planning (VM directories, what uses which snapshot), then `body` in one catalog read
    /// transaction (nil without a catalog). Summaries the catalog marks stale (rows changed by a tool that is not
    /// amber, or a catalog just migrated) are rebuilt first, in a write transaction of their own; if that fails the
    /// read builds them from the rows.
    static func withCatalogView<T>(
        home: AmberHome, catalog: Catalog?, vm: String?,
        _ body: (HomeView, SQLiteConnection?) throws -> T
    ) throws -> T {
        let directories = VMNames.existing(home: home)
        let view = HomeView(
            vms: vm.map { name in directories.filter { $0 == name } } ?? directories,
            users: SnapshotUserPlaces(users: SnapshotUsers.read(home: home)))
        guard let catalog else { return try body(view, nil) }
        if try catalog.read({ try $0.planningSummariesNeedRefresh() }) {
            try? catalog.write { try $0.refreshPlanningSummaries() }
        }
        return try catalog.read { db in try body(view, db) }
    }

    struct HomeView {
        let vms: [String]
        let users: SnapshotUserPlaces
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

/// The snapshots VMs run from (`SnapshotUsers`), to be placed among summaries' positions. Few snapshots are in use
/// (one per rolled-back or cloned VM): each is found by id in the catalog rather than by scanning every id.
struct SnapshotUserPlaces {
    let users: [String: [String]]

    /// Summaries as the planner's columns, with the positions of snapshots in use filled in.
    func columns(of summaries: [SnapshotPlanningSummary], _ db: SQLiteConnection) throws -> [VMSnapshots] {
        var snapshots = summaries.map {
            VMSnapshots(
                vm: $0.vm, created: $0.created, sizes: $0.storedBytes, protected: $0.protected,
                policy: $0.policy, policyNames: $0.policyNames)
        }
        guard !users.isEmpty else { return snapshots }
        let index = Dictionary(summaries.indices.map { (summaries[$0].vm, $0) }, uniquingKeysWith: { first, _ in first })
        for (id, usedBy) in users {
            guard let place = try db.snapshotPlace(id: id), let vm = index[place.vm],
                let position = summaries[vm].position(created: place.created, tieOffset: place.tieOffset)
            else { continue }
            snapshots[vm].inUseBy[position] = usedBy
        }
        return snapshots
    }
}
