import AmberCatalog
import AmberPolicy
import Foundation

/// Applies retention now: deletes the snapshot rows the plan prunes. Only rows: the chunks they alone used are
/// freed by the next `amber store gc` (amberd runs it on its own schedule).
public struct PruneService {
    public let home: AmberHome

    public init(home: AmberHome) {
        self.home = home
    }

    /// Plans over the catalog (one VM's snapshots when `vm` is given) and, unless `dryRun`, deletes what the plan
    /// prunes. Planning and deleting happen in one write transaction, so a snapshot protected meanwhile by
    /// `amber snapshot protect` is seen protected and kept.
    public func prune(policies: PolicySet, vm: String? = nil, now: Date = Date(), dryRun: Bool) throws -> PruneReport {
        if let vm { try VMName.validate(vm) }
        let catalogExists = FileManager.default.fileExists(atPath: home.catalogFile.path)
        let catalog = catalogExists ? try Catalog(path: home.catalogFile.path) : nil
        if let vm {
            let known = try catalog?.read { try $0.vm(named: vm) } != nil
            guard home.vm(vm).exists || known else { throw VMLifecycleError.notFound(name: vm) }
        }
        guard let catalog else { return PruneReport(dryRun: dryRun, now: now, pruned: [], kept: 0) }
        let records = try RecordKeeper(home: home)
        if !dryRun { CrashedRecordChanges.resolveReportingFailure(records: records.directory, catalog: catalog) }
        let users = SnapshotUsers.read(home: home)
        let decide = { (db: SQLiteConnection) throws -> PruneReport in
            if !dryRun { try db.refreshPlanningSummaries() }
            let summaries = try db.planningSummaries(vm: vm, includingIDs: true)
            let snapshots = try SnapshotUserPlaces(users: users).columns(of: summaries, db)
            let plan = Planner.plan(policies: policies, vmSnapshots: snapshots, vms: [], now: now)
            var pruned: [PruneReport.Entry] = []
            for (vmPlan, summary) in zip(plan.vms, summaries) {
                for position in vmPlan.verdicts.indices where vmPlan.verdicts[position].action == .prune {
                    pruned.append(
                        PruneReport.Entry(
                            id: summary.ids![position], vm: vmPlan.vm,
                            createdAt: Date(timeIntervalSince1970: summary.created[position]),
                            reason: vmPlan.decision(at: position).description))
                }
            }
            if !dryRun {
                // Tombstones first (protected rows are never deleted, so never tombstoned).
                let removed = try pruned.compactMap { try db.snapshot(id: $0.id) }.filter { !$0.protected }
                try records.recordSnapshotRemovals(removed)
                try db.deleteUnprotectedSnapshots(ids: pruned.map(\.id))
            }
            return PruneReport(dryRun: dryRun, now: now, pruned: pruned, kept: plan.snapshotCount - pruned.count)
        }
        return dryRun ? try catalog.read(decide) : try records.undoingOnFailure { try catalog.write(decide) }
    }
}

/// What `amber prune` deleted (or, dry run, would delete). JSON field names are part of Amber's interface.
public struct PruneReport: Codable, Sendable {
    public struct Entry: Codable, Sendable, Equatable {
        public var id: String
        public var vm: String
        public var createdAt: Date
        public var reason: String

        /// `created`, as in every other listing of snapshots (docs/cli-json.md).
        enum CodingKeys: String, CodingKey {
            case id, vm
            case createdAt = "created"
            case reason
        }
    }

    public var dryRun: Bool
    public var now: Date
    public var pruned: [Entry]
    /// Snapshots left (every snapshot looked at that is not pruned).
    public var kept: Int
}
