import Foundation

/// Turns policies, the stored snapshots and "now" into a `Plan`. Pure: no clock, no files.
public enum Planner {
    /// - Parameters:
    ///   - snapshots: every stored snapshot, in any order; fastest (about 10x) when each VM's snapshots are listed
    ///     together in time order, as `ORDER BY vm, created_at` gives.
    ///   - vms: the VMs that exist; schedules are reported for these.
    ///   - lastRuns: when each schedule last ran, where the caller tracks it (a run that failed still counts);
    ///     otherwise the newest snapshot the policy took of the VM.
    public static func plan(policies: PolicySet, snapshots: [SnapshotInfo], vms: [String], now: Date,
                            lastRuns: [ScheduleKey: Date] = [:]) -> Plan {
        var builder = PlanBuilder(policies: policies, snapshots: snapshots, now: now)
        let decisions = [Decision](unsafeUninitializedCapacity: snapshots.count) { buffer, initializedCount in
            let sink = DecisionSink(buffer)
            for group in VMGroup.groups(of: snapshots) { builder.decide(group, into: sink) }
            initializedCount = snapshots.count
        }
        let schedules = vms.compactMap { builder.schedule(for: $0, lastRuns: lastRuns) }
        return Plan(now: now, snapshots: snapshots, decisions: decisions, schedules: schedules,
                    conflicts: builder.conflicts.values.sorted { $0.vm < $1.vm })
    }
}

/// One VM's snapshots, as runs of consecutive indices into the snapshot list: catalogs list a VM's snapshots
/// together, so grouping costs one string comparison per snapshot and one range per VM.
struct VMGroup {
    let vm: String
    private(set) var runs: [Range<Int>]

    var indices: FlattenSequence<[Range<Int>]> { runs.joined() }
    var count: Int { runs.reduce(0) { $0 + $1.count } }

    static func groups(of snapshots: [SnapshotInfo]) -> [VMGroup] {
        var groups: [VMGroup] = []
        var groupOfVM: [String: Int] = [:]
        var runStart = 0
        for index in snapshots.indices
        where index + 1 == snapshots.count || snapshots[index + 1].vm != snapshots[index].vm {
            let vm = snapshots[index].vm
            if let existing = groupOfVM[vm] {
                groups[existing].runs.append(runStart..<index + 1)
            } else {
                groupOfVM[vm] = groups.count
                groups.append(VMGroup(vm: vm, runs: [runStart..<index + 1]))
            }
            runStart = index + 1
        }
        return groups
    }
}

/// The planner's working state: zone tables built once per plan, what it learned about each VM.
private struct PlanBuilder {
    let policies: PolicySet
    let snapshots: [SnapshotInfo]
    let now: Date
    private(set) var conflicts: [String: PolicyConflict] = [:]
    private var newestOwned: [String: Date] = [:]
    private var clocks: [String: ZoneClock] = [:]

    init(policies: PolicySet, snapshots: [SnapshotInfo], now: Date) {
        self.policies = policies
        self.snapshots = snapshots
        self.now = now
    }

    mutating func decide(_ group: VMGroup, into decisions: DecisionSink) {
        switch policies.ownership(of: group.vm) {
        case .none:
            for index in group.indices { decisions.set(index, Decision(.noPolicy(vm: group.vm))) }
        case .conflict(let matching):
            let names = matching.map(\.name)
            conflicts[group.vm] = PolicyConflict(vm: group.vm, policies: names)
            for index in group.indices { decisions.set(index, Decision(.conflict(vm: group.vm, policies: names))) }
        case .policy(let policy):
            decide(group, ownedBy: policy, into: decisions)
        }
    }

    private mutating func decide(_ group: VMGroup, ownedBy policy: Policy, into decisions: DecisionSink) {
        var timeline = OwnedTimeline()
        timeline.reserveCapacity(group.count)
        var otherBytes: UInt64 = 0
        // One pass over the (large) snapshot records; everything after works on dense local arrays.
        for index in group.indices {
            let isProtected = snapshots[index].isProtected
            let isInUse = !snapshots[index].inUseBy.isEmpty
            if snapshots[index].policy == policy.name {
                timeline.append(index: index, time: snapshots[index].createdAt.timeIntervalSince1970,
                                exemption: isProtected ? .protected : (isInUse ? .inUse : .none))
                continue
            }
            otherBytes &+= snapshots[index].sizeBytes
            if isProtected {
                decisions.set(index, Decision(.protected))
            } else if isInUse {
                decisions.set(index, Decision(.inUse(by: snapshots[index].inUseBy)))
            } else if let other = snapshots[index].policy {
                decisions.set(index, Decision(.foreignPolicy(other)))
            } else {
                decisions.set(index, Decision(.manual))
            }
        }
        timeline.sortNewestFirst()
        if let newest = timeline.entries.first {
            newestOwned[group.vm] = Date(timeIntervalSince1970: newest.time)
        }
        let localTimes = clock(for: policy).localSeconds(newestFirst: timeline.entries.map { $0.time })
        RetentionEngine(retention: policy.retention, now: now)
            .decide(timeline, localTimes: localTimes, snapshots: snapshots, otherBytes: otherBytes, into: decisions)
    }

    /// The schedule of the VM's policy: due when a slot has passed since the last run (however many passed,
    /// one catch-up run); a VM never run waits for the next slot. Nil for a VM without (exactly one) policy.
    mutating func schedule(for vm: String, lastRuns: [ScheduleKey: Date]) -> ScheduleStatus? {
        switch policies.ownership(of: vm) {
        case .none:
            return nil
        case .conflict(let matching):
            conflicts[vm] = PolicyConflict(vm: vm, policies: matching.map(\.name))
            return nil
        case .policy(let policy):
            let lastRun = lastRuns[ScheduleKey(policy: policy.name, vm: vm)] ?? newestOwned[vm]
            let zone = clock(for: policy)
            let slotSinceLastRun = lastRun.flatMap { policy.schedule.next(after: $0, zone: zone) }
            let isDue = slotSinceLastRun.map { $0 <= now } ?? false
            let nextRun = lastRun != nil ? slotSinceLastRun : policy.schedule.next(after: now, zone: zone)
            return ScheduleStatus(policy: policy.name, vm: vm, memory: policy.memory, lastRun: lastRun, isDue: isDue,
                                  nextRun: nextRun)
        }
    }

    private mutating func clock(for policy: Policy) -> ZoneClock {
        if let clock = clocks[policy.timeZone.identifier] { return clock }
        // Prepared offsets cover the last 30 years and the next 2; other instants still convert, just slower.
        let seconds = Int(now.timeIntervalSince1970)
        let clock = ZoneClock(timeZone: policy.timeZone, span: seconds - 30 * 366 * 86_400...seconds + 2 * 366 * 86_400)
        clocks[policy.timeZone.identifier] = clock
        return clock
    }
}

/// Write-once storage for a plan's decisions. Every snapshot index lies in exactly one VM's group and each group
/// decides each of its indices exactly once, so every slot is initialized exactly once; this saves filling a
/// million placeholders first and overwriting them (measured: a large part of planning time).
struct DecisionSink {
    private let base: UnsafeMutablePointer<Decision>

    init(_ buffer: UnsafeMutableBufferPointer<Decision>) {
        base = buffer.baseAddress!
    }

    @inline(__always)
    func set(_ index: Int, _ decision: Decision) {
        (base + index).initialize(to: decision)
    }
}

/// The snapshots of one VM that its policy owns, as one dense array (the engine's working set).
struct OwnedTimeline {
    enum Exemption: UInt8 { case none, protected, inUse }

    struct Entry {
        /// Index into the planner's snapshot list.
        var index: Int
        /// Creation time, seconds since 1970.
        var time: Double
        var exemption: Exemption
    }

    private(set) var entries: [Entry] = []

    mutating func reserveCapacity(_ capacity: Int) {
        entries.reserveCapacity(capacity)
    }

    @inline(__always)
    mutating func append(index: Int, time: Double, exemption: Exemption) {
        entries.append(Entry(index: index, time: time, exemption: exemption))
    }

    /// Catalogs usually list snapshots in time order already; only sort when they are not.
    mutating func sortNewestFirst() {
        if zip(entries, entries.dropFirst()).allSatisfy({ $0.time <= $1.time }) {
            entries.reverse()
        } else if !zip(entries, entries.dropFirst()).allSatisfy({ $0.time >= $1.time }) {
            entries.sort { $0.time > $1.time }
        }
    }
}
