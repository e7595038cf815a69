import Foundation

/// One VM's stored snapshots as the planner reads them: parallel columns, one entry per snapshot, ideally in
/// creation order (any order is planned correctly; creation order is the fast path). Columns rather than one value
/// per snapshot, so a catalog can hand over a million snapshots without building a String or a Date for each.
public struct VMSnapshots: Sendable {
    public var vm: String
    /// Seconds since 1970.
    public var created: [Double]
    /// Bytes that pruning the snapshot would free (its share of the store), for `max_stored`; negative counts as 0.
    public var sizes: [Int64]
    /// Protected snapshots are never pruned.
    public var protected: [Bool]
    /// The policy whose schedule took the snapshot, as an index into `policyNames`; -1 for a snapshot taken by hand.
    public var policy: [Int32]
    public var policyNames: [String]
    /// What uses a snapshot (by position), e.g. `["VM web-clone1"]`; in-use snapshots are never pruned.
    public var inUseBy: [Int: [String]]

    public init(
        vm: String, created: [Double], sizes: [Int64], protected: [Bool], policy: [Int32],
        policyNames: [String], inUseBy: [Int: [String]] = [:]
    ) {
        precondition(sizes.count == created.count && protected.count == created.count && policy.count == created.count)
        self.vm = vm
        self.created = created
        self.sizes = sizes
        self.protected = protected
        self.policy = policy
        self.policyNames = policyNames
        self.inUseBy = inUseBy
    }

    public var count: Int { created.count }

    /// The name of the policy that took the snapshot at `position`; nil for one taken by hand.
    public func policyName(at position: Int) -> String? {
        policy[position] < 0 ? nil : policyNames[Int(policy[position])]
    }
}
