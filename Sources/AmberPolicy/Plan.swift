import Foundation

/// What the policies would do now: for every snapshot keep or prune and why, and for every VM a policy applies
/// to whether its schedule is due.
public struct Plan: Sendable {
    public let now: Date
    /// The snapshots planned over, in the order given.
    public let snapshots: [SnapshotInfo]
    /// `decisions[i]` is the decision for `snapshots[i]`.
    public let decisions: [Decision]
    public let schedules: [ScheduleStatus]
    /// VMs matched by more than one policy: none of them is snapshotted or pruned.
    public let conflicts: [PolicyConflict]

    /// Snapshots to delete now.
    public var pruned: [SnapshotInfo] {
        snapshots.indices.filter { decisions[$0].action == .prune }.map { snapshots[$0] }
    }

    /// Schedules that should take a snapshot now.
    public var due: [ScheduleStatus] { schedules.filter(\.isDue) }
}

/// One policy's schedule for one VM.
public struct ScheduleStatus: Sendable, Hashable {
    public let policy: String
    public let vm: String
    /// Include guest memory in the snapshot.
    public let memory: Bool
    /// When the schedule last ran for this VM, if ever.
    public let lastRun: Date?
    /// A slot has passed since the last run: take a snapshot now. However many slots passed while nothing ran,
    /// this is one catch-up run.
    public let isDue: Bool
    /// The slot that made it due (when due), else the next slot; nil if the event never fires again.
    public let nextRun: Date?
}

public struct PolicyConflict: Sendable, Hashable, CustomStringConvertible {
    public let vm: String
    public let policies: [String]
    public var description: String {
        "VM \(vm) is matched by policies \(policies.map { "'\($0)'" }.joined(separator: " and ")); "
            + "a VM may belong to one policy only, narrow one of the vms lists"
    }
}

/// Identifies one schedule's run history: a policy applied to a VM.
public struct ScheduleKey: Sendable, Hashable {
    public let policy: String
    public let vm: String
    public init(policy: String, vm: String) {
        self.policy = policy
        self.vm = vm
    }
}
