import Foundation

/// What a per-VM report needs of a VM's plan, without the VM's snapshot columns: counts per verdict and the newest
/// prunes in full. A plan over a million snapshots keeps a hundred of these instead of every column.
public struct VMPlanDigest: Sendable {
    public struct Listed: Sendable {
        public let position: Int
        public let created: Date
        public let decision: Decision
        /// Filled in by the caller, which knows where ids are kept.
        public var id: String?
    }

    public let vm: String
    public let policy: Policy?
    public let conflictingPolicies: [String]?
    public let newestOwned: Date?
    public let snapshotCount: Int
    public let pruneCount: Int
    /// Snapshots per verdict kind (by raw value), not counting those `max_stored` prunes.
    public let counts: [Int]
    /// Snapshots a keep rule would keep but `max_stored` prunes.
    public let overBudgetCount: Int
    /// The newest prunes (at most the number asked for), oldest first.
    public var listedPrunes: [Listed]

    public func count(_ kind: Verdict.Kind) -> Int { counts[Int(kind.rawValue)] }
}

extension VMPlan {
    /// This plan's digest, naming the newest `limit` prunes.
    public func digest(listingPrunes limit: Int) -> VMPlanDigest {
        var counts = [Int](repeating: 0, count: Verdict.Kind.allCases.count)
        var overBudget = 0
        for verdict in verdicts {
            if verdict.overBudget { overBudget += 1 } else { counts[Int(verdict.kind.rawValue)] += 1 }
        }
        var listed: [VMPlanDigest.Listed] = []
        for position in verdicts.indices.reversed() where verdicts[position].action == .prune {
            guard listed.count < limit else { break }
            listed.append(
                VMPlanDigest.Listed(
                    position: position, created: Date(timeIntervalSince1970: snapshots.created[position]),
                    decision: decision(at: position), id: nil))
        }
        return VMPlanDigest(
            vm: vm, policy: policy, conflictingPolicies: conflictingPolicies, newestOwned: newestOwned,
            snapshotCount: snapshots.count, pruneCount: pruneCount, counts: counts,
            overBudgetCount: overBudget, listedPrunes: listed.reversed())
    }
}
