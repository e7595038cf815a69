import AmberTestSupport
import Foundation
import Testing
@testable import AmberPolicy

/// A random history of one VM's snapshots and a random policy for it.
struct RandomTimeline {
    static let zones = ["UTC", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]

    var snapshots: [SnapshotInfo] = []
    var policy: Policy
    var now: Date

    init(using random: inout SeededGenerator, count: Int, withExtras: Bool) {
        var time = Date(timeIntervalSince1970: Double.random(in: 1.70e9...1.80e9, using: &random))
        // Mix of cadences: bursts minutes apart, hourly-ish, daily-ish, long gaps.
        let gaps: [ClosedRange<Double>] = [60...900, 1800...7200, 36_000...100_000, 200_000...3_000_000]
        let cadence = Int.random(in: 0..<gaps.count, using: &random)
        for index in 0..<count {
            let range =
                Double.random(in: 0...1, using: &random) < 0.8
                ? gaps[cadence] : gaps[Int.random(in: 0..<gaps.count, using: &random)]
            time = time.addingTimeInterval(Double.random(in: range, using: &random).rounded())
            snapshots.append(
                SnapshotInfo(
                    id: "s\(index)", vm: "vm", createdAt: time,
                    sizeBytes: UInt64.random(in: 1...1000, using: &random),
                    isProtected: Double.random(in: 0...1, using: &random) < 0.05,
                    inUseBy: Double.random(in: 0...1, using: &random) < 0.03 ? ["clone c\(index)"] : [],
                    policy: "p"))
        }
        snapshots.shuffle(using: &random)
        func randomCount() -> Int { Bool.random(using: &random) ? 0 : Int.random(in: 1...8, using: &random) }
        var retention = Retention(
            last: randomCount(), hourly: randomCount(), daily: randomCount(),
            weekly: randomCount(), monthly: randomCount(), yearly: randomCount())
        if withExtras {
            if Bool.random(using: &random) { retention.within = Double.random(in: 3600...1_000_000, using: &random) }
            if Bool.random(using: &random) { retention.maxStoredBytes = UInt64.random(in: 500...20_000, using: &random) }
        }
        let zone = Self.zones[Int.random(in: 0..<Self.zones.count, using: &random)]
        policy = Policy(
            name: "p", vms: [VMPattern("vm")], schedule: try! CalendarEvent(parsing: "hourly"),
            timeZone: TimeZone(identifier: zone)!, retention: retention)
        now = time.addingTimeInterval(Double.random(in: 0...300_000, using: &random))
    }

    func plan(_ snapshots: [SnapshotInfo]? = nil) -> Plan {
        Planner.plan(
            policies: try! PolicySet(policies: [policy]), snapshots: snapshots ?? self.snapshots,
            vms: ["vm"], now: now)
    }
}

/// Proxmox's prune as literally as possible: string bucket ids from Foundation's calendar (ISO week-year and week
/// for weekly), a mark table, newest first. Used only to check the engine's integer fast path.
func referenceKept(_ snapshots: [SnapshotInfo], _ retention: Retention, _ zone: TimeZone) -> Set<String> {
    let newestFirst = snapshots.sorted { $0.createdAt > $1.createdAt }
    if retention.keepsEverything { return Set(newestFirst.filter { !$0.isProtected && $0.inUseBy.isEmpty }.map(\.id)) }
    var gregorian = Calendar(identifier: .gregorian)
    gregorian.timeZone = zone
    var iso = Calendar(identifier: .iso8601)
    iso.timeZone = zone
    func bucketID(_ rule: KeepRule, _ snapshot: SnapshotInfo) -> String {
        let c = gregorian.dateComponents([.year, .month, .day, .hour], from: snapshot.createdAt)
        switch rule {
        case .last: return snapshot.id
        case .hourly: return "\(c.year!)/\(c.month!)/\(c.day!)/\(c.hour!)"
        case .daily: return "\(c.year!)/\(c.month!)/\(c.day!)"
        case .weekly:
            let w = iso.dateComponents([.yearForWeekOfYear, .weekOfYear], from: snapshot.createdAt)
            return "\(w.yearForWeekOfYear!)/\(w.weekOfYear!)"
        case .monthly: return "\(c.year!)/\(c.month!)"
        case .yearly: return "\(c.year!)"
        }
    }
    var marks: [String: String] = [:]
    for rule in KeepRule.allCases {
        let keep = retention.count(for: rule)
        guard keep > 0 else { continue }
        let alreadyIncluded = Set(newestFirst.filter { marks[$0.id] == "keep" }.map { bucketID(rule, $0) })
        var included = Set<String>()
        for snapshot in newestFirst where marks[snapshot.id] == nil {
            if snapshot.isProtected || !snapshot.inUseBy.isEmpty {
                marks[snapshot.id] = "exempt"
                continue
            }
            let id = bucketID(rule, snapshot)
            if alreadyIncluded.contains(id) { continue }
            if !included.contains(id) {
                if included.count >= keep { break }
                included.insert(id)
                marks[snapshot.id] = "keep"
            } else {
                marks[snapshot.id] = "remove"
            }
        }
    }
    return Set(marks.filter { $0.value == "keep" }.keys)
}

@Suite("Retention: properties over generated timelines")
struct RetentionPropertyTests {
    static let timelines = 2000

    @Test func keepRulesMatchTheProxmoxReference() {
        var random = SeededGenerator(seed: 0xA3BE_2026)
        for _ in 0..<Self.timelines / 2 {
            let timeline = RandomTimeline(
                using: &random, count: Int.random(in: 0...150, using: &random),
                withExtras: false)
            let plan = timeline.plan()
            let kept = Set(
                plan.snapshots.indices.filter {
                    switch plan.decisions[$0].reason {
                    case .keptByRule, .keptByLast, .keptAll: return true
                    default: return false
                    }
                }.map { plan.snapshots[$0].id })
            let expected = referenceKept(timeline.snapshots, timeline.policy.retention, timeline.policy.timeZone)
            #expect(kept == expected, "\(timeline.policy.retention) in \(timeline.policy.timeZone.identifier)")
            if kept != expected { return }
        }
    }

    @Test func invariantsHold() {
        var random = SeededGenerator(seed: 0x5EED_0005)
        for _ in 0..<Self.timelines {
            let timeline = RandomTimeline(
                using: &random, count: Int.random(in: 0...200, using: &random),
                withExtras: true)
            let retention = timeline.policy.retention
            let plan = timeline.plan()
            var failures: [String] = []
            for (snapshot, decision) in zip(plan.snapshots, plan.decisions) where decision.action == .prune {
                if snapshot.isProtected { failures.append("protected \(snapshot.id) pruned") }
                if !snapshot.inUseBy.isEmpty { failures.append("in-use \(snapshot.id) pruned") }
            }
            for rule in KeepRule.allCases {
                let keptByRule = plan.decisions.filter {
                    switch $0.reason {
                    case .keptByLast: rule == .last
                    case .keptByRule(let keptBy, _): keptBy == rule
                    default: false
                    }
                }.count
                if keptByRule > retention.count(for: rule) {
                    failures.append("keep-\(rule) kept \(keptByRule) > \(retention.count(for: rule))")
                }
            }
            if let newest = plan.snapshots.indices.max(by: { plan.snapshots[$0].createdAt < plan.snapshots[$1].createdAt }),
                plan.decisions[newest].action != .keep
            {
                failures.append("newest \(plan.snapshots[newest].id) pruned: \(plan.decisions[newest])")
            }
            if let budget = retention.maxStoredBytes {
                let stored = zip(plan.snapshots, plan.decisions).filter { $0.1.action == .keep }
                    .reduce(UInt64(0)) { $0 + $1.0.sizeBytes }
                let newest = plan.snapshots.map(\.createdAt).max()
                let stillDroppable = zip(plan.snapshots, plan.decisions).contains { snapshot, decision in
                    decision.action == .keep && snapshot.createdAt != newest && !snapshot.isProtected
                        && snapshot.inUseBy.isEmpty
                }
                if stored > budget && stillDroppable { failures.append("over budget \(stored) > \(budget)") }
            }
            let keptSnapshots = zip(plan.snapshots, plan.decisions).filter { $0.1.action == .keep }.map(\.0)
            let again = timeline.plan(keptSnapshots)
            if !again.pruned.isEmpty {
                failures.append("not idempotent: second run prunes \(again.pruned.map(\.id))")
            }
            #expect(failures.isEmpty, "\(failures) with \(retention) in \(timeline.policy.timeZone.identifier)")
            if !failures.isEmpty { return }
        }
    }

    /// The integer calendar arithmetic the engine uses agrees with Foundation's for every day from 1900 to 2300.
    @Test func civilArithmeticMatchesFoundation() {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        var iso = Calendar(identifier: .iso8601)
        iso.timeZone = calendar.timeZone
        let first = CivilDate(year: 1900, month: 1, day: 1).daysSinceEpoch
        let last = CivilDate(year: 2300, month: 1, day: 1).daysSinceEpoch
        var mismatches = 0
        for day in stride(from: first, to: last, by: 3) {
            let date = Date(timeIntervalSince1970: Double(day) * 86_400)
            let c = calendar.dateComponents([.year, .month, .day, .weekday], from: date)
            let w = iso.dateComponents([.yearForWeekOfYear, .weekOfYear], from: date)
            let civil = CivilDate(daysSinceEpoch: day)
            let week = CivilDate.isoWeek(daysSinceEpoch: day)
            if civil != CivilDate(year: c.year!, month: c.month!, day: c.day!)
                || civil.daysSinceEpoch != day
                || civil.weekday != (c.weekday! + 5) % 7 + 1
                || week.year != w.yearForWeekOfYear! || week.week != w.weekOfYear!
            {
                mismatches += 1
            }
        }
        #expect(mismatches == 0)
    }

    /// The cached offset table agrees with `TimeZone` at random instants and right around each transition.
    @Test(arguments: RandomTimeline.zones + ["Asia/Kathmandu", "America/Sao_Paulo"])
    func zoneClockMatchesFoundation(zoneName: String) {
        let zone = TimeZone(identifier: zoneName)!
        let span = 1_500_000_000...1_900_000_000
        let clock = ZoneClock(timeZone: zone, span: span)
        var random = SeededGenerator(seed: 42)
        var instants = (0..<5000).map { _ in Int.random(in: span, using: &random) }
        var cursor = Date(timeIntervalSince1970: Double(span.lowerBound))
        while let transition = zone.nextDaylightSavingTimeTransition(after: cursor),
            transition.timeIntervalSince1970 < Double(span.upperBound)
        {
            let t = Int(transition.timeIntervalSince1970)
            instants += [t - 1, t, t + 1]
            cursor = transition
        }
        let wrong = instants.filter {
            clock.offset(at: $0) != zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double($0)))
        }
        #expect(wrong.isEmpty)
        let newestFirst = instants.sorted(by: >)
        let entries = newestFirst.map { OwnedTimeline.Entry(index: 0, time: Double($0), exemption: .none) }
        #expect(
            clock.localSeconds(newestFirst: entries)
                == newestFirst.map {
                    $0 + zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double($0)))
                })
    }
}
