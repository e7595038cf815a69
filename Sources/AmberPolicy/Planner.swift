import Foundation

/// Turns policies, the stored snapshots and "now" into a `Plan`. Pure: no clock, no files.
public enum Planner {
    /// - Parameters:
    ///   - vms: the VMs that exist; schedules are reported for these.
    ///   - lastRuns: when each schedule last ran, where the caller tracks it (a run that failed still counts);
    ///     otherwise the newest snapshot the policy took of the VM.
    public static func plan(policies: PolicySet, snapshots: [SnapshotInfo], vms: [String], now: Date,
                            lastRuns: [ScheduleKey: Date] = [:]) -> Plan {
        var decisions = [Decision](repeating: Decision(.keep, .manual), count: snapshots.count)
        var groupIndex: [String: Int] = [:]
        var groupVMs: [String] = []
        var members: [[Int]] = []
        var previousVM: String?
        var currentGroup = -1
        for index in snapshots.indices {
            let vm = snapshots[index].vm
            if vm != previousVM {
                if let existing = groupIndex[vm] {
                    currentGroup = existing
                } else {
                    currentGroup = members.count
                    groupIndex[vm] = currentGroup
                    groupVMs.append(vm)
                    members.append([])
                }
                previousVM = vm
            }
            members[currentGroup].append(index)
        }

        let span = timeSpan(of: snapshots, now: now)
        var clocks: [String: ZoneClock] = [:]
        func clock(for policy: Policy) -> ZoneClock {
            if let clock = clocks[policy.timeZone.identifier] { return clock }
            let clock = ZoneClock(timeZone: policy.timeZone, span: span)
            clocks[policy.timeZone.identifier] = clock
            return clock
        }

        var conflicts: [String: PolicyConflict] = [:]
        var newestOwned: [String: Date] = [:]
        for (group, vm) in groupVMs.enumerated() {
            let indices = members[group]
            switch policies.ownership(of: vm) {
            case .none:
                for index in indices { decisions[index] = Decision(.keep, .noPolicy(vm: vm)) }
            case .conflict(let matching):
                let names = matching.map(\.name)
                conflicts[vm] = PolicyConflict(vm: vm, policies: names)
                for index in indices { decisions[index] = Decision(.keep, .conflict(vm: vm, policies: names)) }
            case .policy(let policy):
                var owned: [Int] = []
                owned.reserveCapacity(indices.count)
                var otherBytes: UInt64 = 0
                for index in indices {
                    let snapshot = snapshots[index]
                    if snapshot.policy == policy.name {
                        owned.append(index)
                        continue
                    }
                    otherBytes &+= snapshot.sizeBytes
                    if snapshot.isProtected {
                        decisions[index] = Decision(.keep, .protected)
                    } else if !snapshot.inUseBy.isEmpty {
                        decisions[index] = Decision(.keep, .inUse(by: snapshot.inUseBy))
                    } else if let other = snapshot.policy {
                        decisions[index] = Decision(.keep, .foreignPolicy(other))
                    }
                }
                sortNewestFirst(&owned, snapshots)
                if let newest = owned.first { newestOwned[vm] = snapshots[newest].createdAt }
                let zone = clock(for: policy)
                let localTimes = owned.map {
                    zone.localSeconds(at: Int(snapshots[$0].createdAt.timeIntervalSince1970.rounded(.down)))
                }
                RetentionEngine(retention: policy.retention, now: now)
                    .decide(order: owned, localTimes: localTimes, snapshots: snapshots, otherBytes: otherBytes,
                            into: &decisions)
            }
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

    /// Catalogs usually list snapshots in time order already; only sort when they are not.
    private static func sortNewestFirst(_ indices: inout [Int], _ snapshots: [SnapshotInfo]) {
        func time(_ index: Int) -> Date { snapshots[index].createdAt }
        let ascending = zip(indices, indices.dropFirst()).allSatisfy { time($0) <= time($1) }
        if ascending {
            indices.reverse()
        } else if !zip(indices, indices.dropFirst()).allSatisfy({ time($0) >= time($1) }) {
            indices.sort { time($0) > time($1) }
        }
    }

    private static func timeSpan(of snapshots: [SnapshotInfo], now: Date) -> ClosedRange<Int> {
        var low = now.timeIntervalSince1970
        var high = low
        for snapshot in snapshots {
            let time = snapshot.createdAt.timeIntervalSince1970
            low = min(low, time)
            high = max(high, time)
        }
        // Margin for schedule look-ahead and DST resolution around the ends.
        return Int(low) - 2 * 86_400...Int(high) + 400 * 86_400
    }
}
