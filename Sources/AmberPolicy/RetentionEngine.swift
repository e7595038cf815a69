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
/// - The newest snapshot the policy owns is always kept (this matters only when `within` is the sole rule and
///   nothing is recent).
/// - `max_stored`: while the VM's remaining snapshots (kept, protected, in use and those the policy does not own)
///   exceed the budget, the oldest snapshot kept by a rule or `within` is pruned. Protected, in-use, unowned
///   snapshots and the newest snapshot are never pruned for the budget, so it may stay exceeded.
struct RetentionEngine {
    let retention: Retention
    let now: Date

    /// - Parameters:
    ///   - timeline: the snapshots the policy owns, newest first.
    ///   - localTimes: each snapshot's wall-clock time in the policy's zone (parallel to `timeline`).
    ///   - sizes: every snapshot's size by position (the timeline's entries index it), for `max_stored`.
    ///   - otherBytes: bytes of the VM's snapshots the policy does not own, for `max_stored`.
    ///   - verdicts: indexed by position; each of the timeline's entries is set.
    ///   - ordinals: keep-last's count from the newest (1, 2, ...) by position, for the snapshots it keeps.
    func decide(
        _ timeline: OwnedTimeline, localTimes: [Int], sizes: [Int64], otherBytes: UInt64,
        into verdicts: inout [Verdict], ordinals: inout [Int: Int]
    ) {
        let entries = timeline.entries
        guard !entries.isEmpty else { return }
        // Per position: why it is kept, or `.undecided` (pruned unless something keeps it later). One-byte verdict
        // kinds instead of `Reason` values keep these loops free of reference counting and compare as bytes.
        var chosen = entries.map { entry -> Choice in
            switch entry.exemption {
            case .none: .undecided
            case .protected: .protected
            case .inUse: .inUse
            }
        }
        if retention.keepsEverything {
            for position in chosen.indices where chosen[position] == .undecided { chosen[position] = .keptAll }
        } else {
            applyKeepRules(to: &chosen, localTimes: localTimes)
            if let within = retention.within {
                let cutoff = now.timeIntervalSince1970 - within
                for position in chosen.indices where chosen[position] == .undecided && entries[position].time >= cutoff {
                    chosen[position] = .keptWithin
                }
            }
            if chosen[0] == .undecided { chosen[0] = .keptNewest }
        }
        let overBudget = overBudgetPositions(chosen, entries: entries, sizes: sizes, otherBytes: otherBytes)

        var ordinal = 0
        for position in chosen.indices {
            let kind = chosen[position]
            if kind == .keptByLast {
                ordinal += 1
                ordinals[entries[position].index] = ordinal
            }
            verdicts[entries[position].index] = Verdict(kind, overBudget: overBudget[position])
        }
    }

    /// Proxmox's marking, rule by rule (see the type's documentation).
    private func applyKeepRules(to chosen: inout [Choice], localTimes: [Int]) {
        // Set aside: exempt, kept, or marked for removal (a newer snapshot of its bucket was kept).
        var decided = chosen.map { $0 != .undecided }
        // Positions kept by a rule so far (few: at most the sum of the counts).
        var keptPositions: [Int] = []
        let lastRule = KeepRule.allCases.last { retention.count(for: $0) > 0 }
        // A local day lies in one bucket of the daily and longer rules, so those walk runs of snapshots taken on one
        // day instead of single snapshots (the monthly and yearly walks otherwise visit every snapshot).
        let dayRuns =
            KeepRule.allCases.contains { $0.bucketsWholeDays && retention.count(for: $0) > 0 }
            ? Self.dayRuns(localTimes) : []
        for rule in KeepRule.allCases {
            let limit = retention.count(for: rule)
            guard limit > 0 else { continue }
            var walk = RuleWalk(
                rule: rule, limit: limit, marksForLaterRules: rule != lastRule, localTimes: localTimes,
                keptPositions: keptPositions)
            if rule.bucketsWholeDays {
                walk.run(over: dayRuns, chosen: &chosen, decided: &decided, keptPositions: &keptPositions)
            } else {
                walk.run(
                    over: chosen.indices.lazy.map { $0..<$0 + 1 }, chosen: &chosen, decided: &decided,
                    keptPositions: &keptPositions)
            }
        }
    }

    /// Maximal runs of consecutive positions whose local times fall on one day.
    private static func dayRuns(_ localTimes: [Int]) -> [Range<Int>] {
        var runs: [Range<Int>] = []
        guard let firstTime = localTimes.first else { return runs }
        var start = 0
        var runDay = floorDivide(firstTime, 86_400)
        for position in localTimes.indices.dropFirst() {
            let day = floorDivide(localTimes[position], 86_400)
            guard day != runDay else { continue }
            runs.append(start..<position)
            start = position
            runDay = day
        }
        runs.append(start..<localTimes.count)
        return runs
    }

    /// One rule's walk over the snapshots no earlier rule decided on, in steps that each lie in one bucket.
    private struct RuleWalk {
        let rule: KeepRule
        let limit: Int
        /// What this rule marks for removal matters only to the rules after it.
        let marksForLaterRules: Bool
        let localTimes: [Int]
        var buckets: BucketCache
        /// Buckets an earlier rule already keeps a snapshot of.
        let alreadyIncluded: Set<Int>
        var included: Set<Int>

        init(rule: KeepRule, limit: Int, marksForLaterRules: Bool, localTimes: [Int], keptPositions: [Int]) {
            self.rule = rule
            self.limit = limit
            self.marksForLaterRules = marksForLaterRules
            self.localTimes = localTimes
            var buckets = BucketCache(rule: rule)
            alreadyIncluded = Set(keptPositions.map { buckets.bucket(position: $0, localTime: localTimes[$0]) })
            self.buckets = buckets
            included = Set(minimumCapacity: limit)
        }

        mutating func run<Steps: Sequence<Range<Int>>>(
            over steps: Steps, chosen: inout [Choice], decided: inout [Bool],
            keptPositions: inout [Int]
        ) {
            // Snapshots are mostly in bucket order, so remember the previous bucket's verdict.
            var previousBucket = Int.min
            var previousVerdict = BucketVerdict.covered
            for step in steps {
                guard let first = step.first(where: { !decided[$0] }) else { continue }
                let bucket = buckets.bucket(position: first, localTime: localTimes[first])
                var verdict: BucketVerdict
                if bucket == previousBucket {
                    verdict = previousVerdict
                } else if alreadyIncluded.contains(bucket) {
                    verdict = .covered
                } else if included.contains(bucket) {
                    verdict = .includedByThisRule
                } else {
                    guard included.count < limit else { return }
                    included.insert(bucket)
                    chosen[first] = Verdict.kept(by: rule)
                    keptPositions.append(first)
                    verdict = .includedByThisRule
                }
                if marksForLaterRules, verdict == .includedByThisRule {
                    for position in step { decided[position] = true }
                }
                previousBucket = bucket
                previousVerdict = verdict
            }
        }
    }

    /// Kept positions `max_stored` prunes: the oldest first, while the VM's snapshots exceed the budget; never the
    /// newest (position 0) nor an exempt one. All false without a budget.
    private func overBudgetPositions(
        _ chosen: [Choice], entries: [OwnedTimeline.Entry], sizes: [Int64],
        otherBytes: UInt64
    ) -> [Bool] {
        var overBudget = [Bool](repeating: false, count: chosen.count)
        guard let budget = retention.maxStoredBytes else { return overBudget }
        var stored = otherBytes
        for position in chosen.indices where chosen[position] != .undecided {
            stored &+= UInt64(max(0, sizes[entries[position].index]))
        }
        var position = chosen.count - 1
        while stored > budget, position > 0 {
            if chosen[position].isKept {
                overBudget[position] = true
                stored -= UInt64(max(0, sizes[entries[position].index]))
            }
            position -= 1
        }
        return overBudget
    }

    /// What the engine has chosen for a position so far.
    private typealias Choice = Verdict.Kind

    private enum BucketVerdict {
        /// An earlier rule already keeps a snapshot from this bucket: skip, leave undecided.
        case covered
        /// This rule kept the bucket's newest snapshot: mark the rest for removal.
        case includedByThisRule
    }

    /// The bucket a snapshot falls in for a rule, as an integer unique per period. Remembers the last day's
    /// calendar date, since consecutive snapshots mostly share a day.
    struct BucketCache {
        let rule: KeepRule
        private var cachedDay = Int.min
        private var cachedDate = CivilDate(year: 1970, month: 1, day: 1)

        init(rule: KeepRule) {
            self.rule = rule
        }

        @inline(__always)
        mutating func bucket(position: Int, localTime: Int) -> Int {
            switch rule {
            case .last: return position
            case .hourly: return floorDivide(localTime, 3600)
            case .daily: return floorDivide(localTime, 86_400)
            // 1970-01-01 was a Thursday: shifting by 3 days makes each Monday start a new index (ISO weeks).
            case .weekly: return floorDivide(floorDivide(localTime, 86_400) + 3, 7)
            case .monthly:
                let date = civilDate(localTime)
                return date.year * 12 + date.month - 1
            case .yearly: return civilDate(localTime).year
            }
        }

        private mutating func civilDate(_ localTime: Int) -> CivilDate {
            let day = floorDivide(localTime, 86_400)
            if day != cachedDay {
                cachedDay = day
                cachedDate = CivilDate(daysSinceEpoch: day)
            }
            return cachedDate
        }
    }
}

extension KeepRule {
    /// Every bucket of the rule is a whole number of local days (daily, weekly, monthly, yearly).
    fileprivate var bucketsWholeDays: Bool {
        switch self {
        case .last, .hourly: false
        case .daily, .weekly, .monthly, .yearly: true
        }
    }
}

extension Verdict.Kind {
    /// Nothing keeps it (yet): pruned unless a later step keeps it.
    fileprivate static var undecided: Self { .notSelected }

    /// Kept by a retention rule (not merely exempt from pruning).
    fileprivate var isKept: Bool {
        switch self {
        case .keptByLast, .keptHourly, .keptDaily, .keptWeekly, .keptMonthly, .keptYearly, .keptWithin, .keptNewest,
            .keptAll:
            true
        case .protected, .inUse, .manual, .noPolicy, .foreignPolicy, .conflict, .notSelected: false
        }
    }
}
