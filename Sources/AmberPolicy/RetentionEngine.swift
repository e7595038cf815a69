import Foundation

/// Decides which of one VM's snapshots a policy keeps.
///
/// The keep rules are Proxmox Backup Server's prune, exactly (pbs-datastore `compute_prune_info`):
/// 1. Snapshots are walked newest first. Protected and in-use snapshots are set aside first: never pruned, and
///    they neither count towards a rule nor fill a bucket.
/// 2. The rules run in the order last, hourly, daily, weekly, monthly, yearly. Each rule buckets snapshots by its
///    period in the policy's time zone (keep-last: every snapshot is its own bucket; weekly: ISO weeks, Monday to
///    Sunday). Buckets that already hold a snapshot kept by an earlier rule are skipped. Walking the snapshots no
///    earlier rule has decided on, the first (newest) snapshot of each new bucket is kept, until the rule has
///    kept its count; the others in a bucket it kept from are marked for removal, and a later rule never
///    reconsiders them. The walk stops at the first new bucket beyond the count.
/// 3. Everything not kept is pruned; with no keep rule at all (and no `within`), everything is kept.
///
/// Amber's additions, applied after the rules:
/// - `within`: every snapshot at or after `now - within` is kept too (a union: it does not change what the rules
///   select).
/// - The newest snapshot is always kept (it matters only when `within` is the sole rule and nothing is recent).
/// - `max_stored`: while the VM's remaining snapshots (kept, protected, in use and those the policy does not own)
///   exceed the budget, the oldest snapshot kept by a rule or `within` is pruned. Protected, in-use, unowned
///   snapshots and the newest snapshot are never pruned for the budget, so it may stay exceeded.
struct RetentionEngine {
    let retention: Retention
    let now: Date

    /// - Parameters:
    ///   - order: indices into `snapshots` of the snapshots the policy owns, newest first.
    ///   - localTimes: each ordered snapshot's wall-clock time in the policy's zone (parallel to `order`).
    ///   - otherBytes: bytes of the VM's snapshots the policy does not own, for `max_stored`.
    func decide(order: [Int], localTimes: [Int], snapshots: [SnapshotInfo], otherBytes: UInt64,
                into decisions: inout [Decision]) {
        let count = order.count
        guard count > 0 else { return }
        var chosen = [Reason?](repeating: nil, count: count)
        // Set aside by an earlier rule: kept, or marked for removal (a newer snapshot of its bucket was kept).
        var decided = [Bool](repeating: false, count: count)
        for position in 0..<count {
            let snapshot = snapshots[order[position]]
            if snapshot.isProtected {
                chosen[position] = .protected
                decided[position] = true
            } else if !snapshot.inUseBy.isEmpty {
                chosen[position] = .inUse(by: snapshot.inUseBy)
                decided[position] = true
            }
        }
        var kept = [Bool](repeating: false, count: count)

        if retention.keepsEverything {
            for position in 0..<count where chosen[position] == nil {
                chosen[position] = .keptAll
                kept[position] = true
            }
        } else {
            var ordinal = 0
            for rule in KeepRule.allCases {
                let limit = retention.count(for: rule)
                guard limit > 0 else { continue }
                var alreadyIncluded = Set<Int>()
                for position in 0..<count where kept[position] {
                    alreadyIncluded.insert(Self.bucket(rule, position: position, localTime: localTimes[position]))
                }
                var included = Set<Int>(minimumCapacity: limit)
                for position in 0..<count where !decided[position] {
                    let bucket = Self.bucket(rule, position: position, localTime: localTimes[position])
                    if alreadyIncluded.contains(bucket) { continue }
                    if included.contains(bucket) {
                        decided[position] = true
                        continue
                    }
                    if included.count >= limit { break }
                    included.insert(bucket)
                    decided[position] = true
                    kept[position] = true
                    if rule == .last { ordinal += 1 }
                    chosen[position] = .keptByRule(rule, localTime: localTimes[position], ordinal: ordinal)
                }
            }
            if let within = retention.within {
                let cutoff = now.addingTimeInterval(-within)
                for position in 0..<count where chosen[position] == nil {
                    if snapshots[order[position]].createdAt >= cutoff {
                        chosen[position] = .keptWithin(within)
                        kept[position] = true
                    }
                }
            }
            if chosen[0] == nil {
                chosen[0] = .keptNewest
                kept[0] = true
            }
        }

        if let budget = retention.maxStoredBytes {
            var stored = otherBytes
            for position in 0..<count where chosen[position] != nil {
                stored &+= snapshots[order[position]].sizeBytes
            }
            var position = count - 1
            while stored > budget, position > 0 {
                if kept[position], let wouldKeep = chosen[position] {
                    chosen[position] = .overBudget(maxStored: budget, wouldKeep: wouldKeep)
                    kept[position] = false
                    stored -= snapshots[order[position]].sizeBytes
                }
                position -= 1
            }
        }

        for position in 0..<count {
            let index = order[position]
            switch chosen[position] {
            case nil: decisions[index] = Decision(.prune, .notSelected)
            case .overBudget(let budget, let wouldKeep)?:
                decisions[index] = Decision(.prune, .overBudget(maxStored: budget, wouldKeep: wouldKeep))
            case let reason?: decisions[index] = Decision(.keep, reason)
            }
        }
    }

    /// The bucket a snapshot falls in for a rule, as an integer that is unique per period.
    @inline(__always)
    static func bucket(_ rule: KeepRule, position: Int, localTime: Int) -> Int {
        switch rule {
        case .last: return position
        case .hourly: return floorDivide(localTime, 3600)
        case .daily: return floorDivide(localTime, 86_400)
        // 1970-01-01 was a Thursday: shifting by 3 days makes each Monday start a new index (ISO weeks).
        case .weekly: return floorDivide(floorDivide(localTime, 86_400) + 3, 7)
        case .monthly:
            let date = CivilDate(daysSinceEpoch: floorDivide(localTime, 86_400))
            return date.year * 12 + date.month - 1
        case .yearly: return CivilDate(daysSinceEpoch: floorDivide(localTime, 86_400)).year
        }
    }
}
