import Foundation

/// What the policies would do now, per VM: a verdict per snapshot (reasons are rendered only for the snapshots
/// shown), and for every VM a policy applies to whether its schedule is due.
public struct GroupedPlan: Sendable {
    public let now: Date
    /// One entry per VM of the input, in the input's order.
    public let vms: [VMPlan]
    public let schedules: [ScheduleStatus]
    /// VMs matched by more than one policy: none of them is snapshotted or pruned.
    public let conflicts: [PolicyConflict]

    public var snapshotCount: Int { vms.reduce(0) { $0 + $1.snapshots.count } }
    public var pruneCount: Int { vms.reduce(0) { $0 + $1.pruneCount } }
}

/// One VM's snapshots and what happens to each.
public struct VMPlan: Sendable {
    public let snapshots: VMSnapshots
    /// `verdicts[i]` is the verdict for the snapshot at position `i`.
    public let verdicts: [Verdict]
    /// The policy that owns the VM, if exactly one does.
    public let policy: Policy?
    /// The policies that all match the VM, when more than one does.
    public let conflictingPolicies: [String]?
    /// Creation time of the newest snapshot the VM's policy took.
    public let newestOwned: Date?
    public let pruneCount: Int
    private let clock: ZoneClock?
    /// keep-last's count from the newest, by position (few: at most keep-last's count).
    private let ordinals: [Int: Int]

    public var vm: String { snapshots.vm }

    /// The full decision, with its reason's payload (bucket label, users, names), for the snapshot at `position`.
    public func decision(at position: Int) -> Decision {
        let verdict = verdicts[position]
        let reason: Reason
        switch verdict.kind {
        case .keptByLast: reason = .keptByLast(ordinal: ordinals[position] ?? 0)
        case .keptHourly, .keptDaily, .keptWeekly, .keptMonthly, .keptYearly:
            let instant = Int(snapshots.created[position].rounded(.down))
            reason = .keptByRule(verdict.rule!, localTime: clock!.localSeconds(at: instant))
        case .keptWithin: reason = .keptWithin(policy?.retention.within ?? 0)
        case .keptNewest: reason = .keptNewest
        case .keptAll: reason = .keptAll
        case .protected: reason = .protected
        case .inUse: reason = .inUse(by: snapshots.inUseBy[position] ?? [])
        case .manual: reason = .manual
        case .noPolicy: reason = .noPolicy(vm: vm)
        case .foreignPolicy: reason = .foreignPolicy(snapshots.policyName(at: position) ?? "")
        case .conflict: reason = .conflict(vm: vm, policies: conflictingPolicies ?? [])
        case .notSelected: reason = .notSelected
        }
        if verdict.overBudget, let budget = policy?.retention.maxStoredBytes {
            return Decision(.overBudget(maxStored: budget, wouldKeep: reason))
        }
        return Decision(reason)
    }

    /// Plans one VM: who owns it, then the owner's retention over the snapshots it took.
    static func decide(_ snapshots: VMSnapshots, policies: PolicySet, clocks: ZoneClocks, now: Date) -> VMPlan {
        switch policies.ownership(of: snapshots.vm) {
        case .none:
            return VMPlan(snapshots, [Verdict](repeating: Verdict(.noPolicy), count: snapshots.count))
        case .conflict(let matching):
            return VMPlan(
                snapshots, [Verdict](repeating: Verdict(.conflict), count: snapshots.count),
                conflictingPolicies: matching.map(\.name))
        case .policy(let policy):
            let clock = clocks.clock(for: policy)
            let owner = snapshots.policyNames.firstIndex(of: policy.name).map(Int32.init) ?? -2
            var verdicts = [Verdict](repeating: Verdict(.notSelected), count: snapshots.count)
            var timeline = OwnedTimeline()
            timeline.reserveCapacity(snapshots.count)
            var otherBytes: UInt64 = 0
            let anyInUse = !snapshots.inUseBy.isEmpty
            // Newest first, as the engine walks them: for snapshots in creation order, no reversal afterwards.
            for position in (0..<snapshots.count).reversed() {
                let isProtected = snapshots.protected[position]
                let isInUse = anyInUse && snapshots.inUseBy[position] != nil
                if snapshots.policy[position] == owner {
                    timeline.append(
                        index: position, time: snapshots.created[position],
                        exemption: isProtected ? .protected : (isInUse ? .inUse : .none))
                    continue
                }
                otherBytes &+= UInt64(max(0, snapshots.sizes[position]))
                verdicts[position] = Verdict(
                    isProtected
                        ? .protected
                        : isInUse
                            ? .inUse
                            : snapshots.policy[position] >= 0 ? .foreignPolicy : .manual)
            }
            timeline.sortNewestFirst()
            let newest = timeline.entries.first.map { Date(timeIntervalSince1970: $0.time) }
            let localTimes = clock.localSeconds(newestFirst: timeline.entries)
            var ordinals: [Int: Int] = [:]
            RetentionEngine(retention: policy.retention, now: now)
                .decide(
                    timeline, localTimes: localTimes, sizes: snapshots.sizes, otherBytes: otherBytes, into: &verdicts,
                    ordinals: &ordinals)
            return VMPlan(snapshots, verdicts, policy: policy, newestOwned: newest, clock: clock, ordinals: ordinals)
        }
    }

    private init(
        _ snapshots: VMSnapshots, _ verdicts: [Verdict], policy: Policy? = nil,
        conflictingPolicies: [String]? = nil, newestOwned: Date? = nil, clock: ZoneClock? = nil,
        ordinals: [Int: Int] = [:]
    ) {
        self.snapshots = snapshots
        self.verdicts = verdicts
        self.policy = policy
        self.conflictingPolicies = conflictingPolicies
        self.newestOwned = newestOwned
        self.clock = clock
        self.ordinals = ordinals
        pruneCount = verdicts.reduce(0) { $0 + ($1.action == .prune ? 1 : 0) }
    }
}
