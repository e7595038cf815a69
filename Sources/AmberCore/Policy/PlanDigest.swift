import AmberCatalog
import AmberPolicy
import Foundation

/// A plan reduced, VM by VM, to what a per-VM report shows (`amber policy plan` without `--verbose` or `--json`):
/// counts per rule and the newest prunes with their ids. The catalog is read a few VMs at a time and each batch is
/// planned and digested before the next is read, so the columns of a million snapshots are never all in memory:
/// the same few hundred KiB are reused instead of faulting in tens of MB of fresh pages (measured: a fifth of the
/// plan's time). Decisions are exactly those of `Planner.plan`.
public struct PlanDigest: Sendable {
    public let now: Date
    /// Ordered by VM name.
    public let vms: [VMPlanDigest]
    public let schedules: [ScheduleStatus]
    public let conflicts: [PolicyConflict]

    public var snapshotCount: Int { vms.reduce(0) { $0 + $1.snapshotCount } }
    public var pruneCount: Int { vms.reduce(0) { $0 + $1.pruneCount } }

    /// VMs planned per batch: enough for both cores, few enough that a batch's columns are reused memory.
    static let batchSize = 8

    /// Plans every VM of the home's catalog as of `now`, naming the newest `limit` prunes of each.
    public static func read(
        home: AmberHome, catalog: Catalog?, policies: PolicySet, now: Date,
        listingPrunes limit: Int
    ) throws -> PlanDigest {
        let context = PlanContext(policies: policies, now: now)
        return try PlanningInputs.withCatalogView(home: home, catalog: catalog, vm: nil) { view, db in
            var digests: [VMPlanDigest] = []
            var lastRuns: [ScheduleKey: Date] = [:]
            if let db {
                try db.forEachPlanningSummaryBatch(batchSize: batchSize, includingIDs: false) { batch in
                    let plans = context.decide(try view.users.columns(of: batch, db))
                    for (plan, summary) in zip(plans, batch) {
                        var digest = plan.digest(listingPrunes: limit)
                        for index in digest.listedPrunes.indices {
                            digest.listedPrunes[index].id = try db.snapshotID(in: summary, at: digest.listedPrunes[index].position)
                        }
                        digests.append(digest)
                    }
                }
                lastRuns = try PlanningInputs.lastRuns(db)
            }
            // Summaries built from rows came last: put them in their place.
            digests.sort { $0.vm.utf8.lexicographicallyPrecedes($1.vm.utf8) }
            let (schedules, conflicts) = context.schedules(
                vms: view.vms, lastRuns: lastRuns, planned: digests.map { ($0.vm, $0.newestOwned, $0.conflictingPolicies) })
            return PlanDigest(now: now, vms: digests, schedules: schedules, conflicts: conflicts)
        }
    }
}
