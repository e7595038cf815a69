import Foundation

/// Turns policies, the stored snapshots and "now" into a `Plan`. Pure: no clock, no files.
public enum Planner {
    /// - Parameters:
    ///   - vms: the VMs that exist; schedules are reported for these.
    ///   - lastRuns: when each schedule last ran, where the caller tracks it (a run that failed still counts);
    ///     otherwise the newest snapshot the policy took of the VM.
    public static func plan(policies: PolicySet, snapshots: [SnapshotInfo], vms: [String], now: Date,
                            lastRuns: [ScheduleKey: Date] = [:]) -> Plan {
        // Group by VM as runs of consecutive indices: catalogs list a VM's snapshots together, so this is one
        // string comparison per snapshot and one range per VM.
        var groupIndex: [String: Int] = [:]
        var groupVMs: [String] = []
        var members: [[Range<Int>]] = []
        var runStart = 0
        for index in snapshots.indices where index + 1 == snapshots.count || snapshots[index + 1].vm != snapshots[index].vm {
            let vm = snapshots[index].vm
            let group: Int
            if let existing = groupIndex[vm] {
                group = existing
            } else {
                group = members.count
                groupIndex[vm] = group
                groupVMs.append(vm)
                members.append([])
            }
            members[group].append(runStart..<index + 1)
            runStart = index + 1
        }

        let span = timeSpan(now: now)
        var clocks: [String: ZoneClock] = [:]
        func clock(for policy: Policy) -> ZoneClock {
            if let clock = clocks[policy.timeZone.identifier] { return clock }
            let clock = ZoneClock(timeZone: policy.timeZone, span: span)
            clocks[policy.timeZone.identifier] = clock
            return clock
        }

        var conflicts: [String: PolicyConflict] = [:]
        var newestOwned: [String: Date] = [:]
        let decisions = [Decision](unsafeUninitializedCapacity: snapshots.count) { buffer, initializedCount in
            let decisions = DecisionSink(buffer)
            for (group, vm) in groupVMs.enumerated() {
                let indices = members[group].joined()
                switch policies.ownership(of: vm) {
                case .none:
                    for index in indices { decisions.set(index, Decision(.noPolicy(vm: vm))) }
                case .conflict(let matching):
                    let names = matching.map(\.name)
                    conflicts[vm] = PolicyConflict(vm: vm, policies: names)
                    for index in indices { decisions.set(index, Decision(.conflict(vm: vm, policies: names))) }
                case .policy(let policy):
                    var timeline = OwnedTimeline()
                    timeline.reserveCapacity(members[group].reduce(0) { $0 + $1.count })
                    var otherBytes: UInt64 = 0
                    // One pass over the (large) snapshot records; everything after works on dense local arrays.
                    for index in indices {
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
                        newestOwned[vm] = Date(timeIntervalSince1970: newest.time)
                    }
                    let zone = clock(for: policy)
                    let localTimes = zone.localSeconds(newestFirst: timeline.entries.map { $0.time })
                    RetentionEngine(retention: policy.retention, now: now)
                        .decide(timeline, localTimes: localTimes, snapshots: snapshots, otherBytes: otherBytes,
                                into: decisions)
                }
            }
            initializedCount = snapshots.count
        }

        var schedules: [ScheduleStatus] = []
        for vm in vms {
            switch policies.ownership(of: vm) {
            case .none: continue
            case .conflict(let matching):
                conflicts[vm] = PolicyConflict(vm: vm, policies: matching.map(\.name))
            case .policy(let policy):
                let lastRun = lastRuns[ScheduleKey(policy: policy.name, vm: vm)] ?? newestOwned[vm]
                let zone = clock(for: policy)
                let slotSinceLastRun = lastRun.flatMap { policy.schedule.next(after: $0, zone: zone) }
                let isDue = slotSinceLastRun.map { $0 <= now } ?? false
                let nextRun = isDue || lastRun != nil ? slotSinceLastRun : policy.schedule.next(after: now, zone: zone)
                schedules.append(ScheduleStatus(policy: policy.name, vm: vm, memory: policy.memory, lastRun: lastRun,
                                                isDue: isDue, nextRun: nextRun))
            }
        }
        return Plan(now: now, snapshots: snapshots, decisions: decisions, schedules: schedules,
                    conflicts: conflicts.values.sorted { $0.vm < $1.vm })
    }

    /// Prepared offsets cover the last 30 years and the next 2; older snapshots still convert, just slower.
    private static func timeSpan(now: Date) -> ClosedRange<Int> {
        let seconds = Int(now.timeIntervalSince1970)
        return seconds - 30 * 366 * 86_400...seconds + 2 * 366 * 86_400
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

    var count: Int { entries.count }

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
