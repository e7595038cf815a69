import Foundation

/// What the engine needs to know about one stored snapshot. The catalog fills these in.
public struct SnapshotInfo: Sendable, Hashable {
    public var id: String
    public var vm: String
    public var createdAt: Date
    /// Bytes that pruning this snapshot would free (its share of the store), used by `max_stored`.
    public var sizeBytes: UInt64
    /// Protected snapshots are never pruned.
    public var isProtected: Bool
    /// What is using the snapshot right now, e.g. `["clone web2"]`; in-use snapshots are never pruned.
    public var inUseBy: [String]
    /// The policy whose schedule took the snapshot; nil for a snapshot taken by hand. A policy prunes only
    /// snapshots it took itself, so a hand-made snapshot is never pruned by a schedule.
    public var policy: String?

    public init(
        id: String, vm: String, createdAt: Date, sizeBytes: UInt64 = 0, isProtected: Bool = false,
        inUseBy: [String] = [], policy: String?
    ) {
        self.id = id
        self.vm = vm
        self.createdAt = createdAt
        self.sizeBytes = sizeBytes
        self.isProtected = isProtected
        self.inUseBy = inUseBy
        self.policy = policy
    }
}
