import Foundation
import Testing
@testable import AmberPolicy

/// Runs one VM's snapshots (UTC times "2019-11-15T09:39:15") through the planner with one policy.
func keptTimes(
    _ times: [String], _ retention: Retention, protected: Set<String> = [],
    zone: String = "UTC"
) throws -> [String] {
    let policy = Policy(
        name: "p", vms: [VMPattern("elsa")], schedule: try CalendarEvent(parsing: "daily"),
        timeZone: TestTime.zone(zone), retention: retention)
    let snapshots = times.map { time in
        SnapshotInfo(
            id: time, vm: "elsa", createdAt: TestTime.utc(time), isProtected: protected.contains(time),
            policy: "p")
    }
    let plan = Planner.plan(
        policies: try PolicySet(policies: [policy]), snapshots: snapshots, vms: ["elsa"],
        now: TestTime.utc("2030-01-01T00:00:00"))
    return snapshots.indices.filter { plan.decisions[$0].action == .keep }.map { snapshots[$0].id }.sorted()
}

/// The cases of Proxmox Backup Server's own prune test suite (proxmox-backup `tests/prune.rs`), which define its
/// documented semantics, re-expressed here: same snapshot lists, same options, same expected result.
@Suite("Retention: Proxmox prune examples")
struct RetentionTableTests {
    static let hourlyList = [
        "2019-11-15T09:39:15", "2019-11-15T10:49:15", "2019-11-15T10:59:15",
        "2019-11-15T11:39:15", "2019-11-15T11:49:15", "2019-11-15T11:59:15",
    ]
    static let longList = [
        "2018-11-15T11:59:15", "2019-11-15T11:59:15", "2019-11-21T11:59:15", "2019-11-22T11:59:15",
        "2019-11-29T11:59:15", "2019-12-01T11:59:15", "2019-12-02T11:59:15", "2019-12-03T11:59:15",
        "2019-12-04T11:59:15",
    ]
    static let shortList = [
        "2019-12-02T11:59:15", "2019-12-03T11:59:15", "2019-12-04T11:59:15",
        "2019-12-04T12:59:15",
    ]

    struct Case: Sendable, CustomTestStringConvertible {
        let list: [String]
        let retention: Retention
        let kept: [String]
        let label: String
        var testDescription: String { label }
    }

    static func without(_ list: [String], _ removed: [String]) -> [String] { list.filter { !removed.contains($0) } }

    static let cases: [Case] = [
        Case(
            list: hourlyList, retention: Retention(hourly: 3),
            kept: ["2019-11-15T09:39:15", "2019-11-15T10:59:15", "2019-11-15T11:59:15"], label: "hourly 3"),
        Case(
            list: hourlyList, retention: Retention(hourly: 2),
            kept: ["2019-11-15T10:59:15", "2019-11-15T11:59:15"], label: "hourly 2"),
        Case(list: longList, retention: Retention(daily: 1), kept: ["2019-12-04T11:59:15"], label: "daily 1"),
        Case(
            list: longList, retention: Retention(last: 1, daily: 1),
            kept: ["2019-12-03T11:59:15", "2019-12-04T11:59:15"], label: "last 1 daily 1"),
        Case(
            list: longList, retention: Retention(daily: 1, weekly: 1),
            kept: ["2019-12-01T11:59:15", "2019-12-04T11:59:15"], label: "daily 1 weekly 1"),
        // 2019-11-29 shares ISO week 48 with 2019-12-01, which weekly kept, so weekly marked it for removal and
        // monthly may not take it: November's snapshot is 2019-11-22.
        Case(
            list: longList, retention: Retention(daily: 1, weekly: 1, monthly: 1),
            kept: ["2019-11-22T11:59:15", "2019-12-01T11:59:15", "2019-12-04T11:59:15"],
            label: "daily 1 weekly 1 monthly 1"),
        Case(
            list: longList, retention: Retention(monthly: 1, yearly: 1),
            kept: ["2018-11-15T11:59:15", "2019-12-04T11:59:15"], label: "monthly 1 yearly 1"),
        Case(list: shortList, retention: Retention(last: 4), kept: shortList, label: "last 4"),
        Case(
            list: shortList, retention: Retention(last: 3), kept: without(shortList, ["2019-12-02T11:59:15"]),
            label: "last 3"),
        Case(
            list: shortList, retention: Retention(last: 2),
            kept: without(shortList, ["2019-12-02T11:59:15", "2019-12-03T11:59:15"]), label: "last 2"),
        Case(list: shortList, retention: Retention(last: 1), kept: ["2019-12-04T12:59:15"], label: "last 1"),
        Case(list: shortList, retention: Retention(last: 2, daily: 2), kept: shortList, label: "last 2 daily 2"),
        Case(
            list: shortList, retention: Retention(daily: 3), kept: without(shortList, ["2019-12-04T11:59:15"]),
            label: "daily 3"),
        Case(
            list: shortList, retention: Retention(daily: 2),
            kept: ["2019-12-03T11:59:15", "2019-12-04T12:59:15"], label: "daily 2"),
        Case(list: shortList, retention: Retention(weekly: 5), kept: ["2019-12-04T12:59:15"], label: "weekly 5"),
        Case(
            list: shortList, retention: Retention(daily: 1, weekly: 5), kept: ["2019-12-04T12:59:15"],
            label: "daily 1 weekly 5"),
        Case(list: shortList, retention: Retention(monthly: 6), kept: ["2019-12-04T12:59:15"], label: "monthly 6"),
        Case(list: shortList, retention: Retention(yearly: 7), kept: ["2019-12-04T12:59:15"], label: "yearly 7"),
        Case(
            list: shortList, retention: Retention(weekly: 5, monthly: 6, yearly: 7), kept: ["2019-12-04T12:59:15"],
            label: "weekly 5 monthly 6 yearly 7"),
        // Proxmox's prune command keeps everything when no keep option is set (its library function, called
        // directly with keep-last 0, would remove all; Amber follows the command).
        Case(list: shortList, retention: Retention(), kept: shortList, label: "no options keeps all"),
    ]

    @Test(arguments: cases)
    func matchesProxmox(_ testCase: Case) throws {
        #expect(try keptTimes(testCase.list, testCase.retention) == testCase.kept.sorted())
    }

    /// Worked by hand: a snapshot every 6 hours from Sun 2026-11-15 00:00 to Tue 2026-11-24 18:00 UTC (40
    /// snapshots), keep last 3, daily 3, weekly 2, monthly 2.
    /// - last keeps 24th 18:00, 12:00, 06:00.
    /// - daily: day 24 is already covered, so 24th 00:00 is skipped (left undecided). 23rd 18:00, 22nd 18:00 and
    ///   21st 18:00 are kept; the other snapshots of those days are marked for removal; the 20th would be a 4th day.
    /// - weekly (ISO): weeks 48 (23rd-29th) and 47 (16th-22nd) are already covered; the first snapshot of a new week
    ///   is 15th 18:00 (week 46): kept, the rest of the 15th marked. No older week exists.
    /// - monthly: November is already covered; nothing more.
    static let sixHourly: [String] = (0..<40).map { step in
        let date = TestTime.utc("2026-11-15T00:00:00").addingTimeInterval(Double(step) * 6 * 3600)
        return TestTime.show(date).prefix(19).replacingOccurrences(of: " ", with: "T")
    }

    @Test func handWorkedSixHourly() throws {
        let kept = try keptTimes(Self.sixHourly, Retention(last: 3, daily: 3, weekly: 2, monthly: 2))
        #expect(
            kept == [
                "2026-11-15T18:00:00", "2026-11-21T18:00:00", "2026-11-22T18:00:00", "2026-11-23T18:00:00",
                "2026-11-24T06:00:00", "2026-11-24T12:00:00", "2026-11-24T18:00:00",
            ])
    }

    /// Same, with 23rd 18:00 protected: it neither counts for daily nor fills day 23, so 23rd 12:00 is kept too.
    @Test func handWorkedWithProtected() throws {
        let kept = try keptTimes(
            Self.sixHourly, Retention(last: 3, daily: 3, weekly: 2, monthly: 2),
            protected: ["2026-11-23T18:00:00"])
        #expect(
            kept == [
                "2026-11-15T18:00:00", "2026-11-21T18:00:00", "2026-11-22T18:00:00", "2026-11-23T12:00:00",
                "2026-11-23T18:00:00", "2026-11-24T06:00:00", "2026-11-24T12:00:00",
                "2026-11-24T18:00:00",
            ])
    }

    /// Buckets are wall-clock periods in the policy's zone: 23:30 UTC on the 1st is already the 2nd in Berlin.
    @Test func bucketsFollowThePolicyZone() throws {
        let list = ["2026-06-01T20:00:00", "2026-06-01T23:30:00"]
        #expect(try keptTimes(list, Retention(daily: 5), zone: "UTC") == ["2026-06-01T23:30:00"])
        #expect(try keptTimes(list, Retention(daily: 5), zone: "Europe/Berlin") == list)
    }

    @Test func reasonsNameTheRuleAndBucket() throws {
        let policy = Policy(
            name: "p", vms: [VMPattern("elsa")], schedule: try CalendarEvent(parsing: "daily"),
            timeZone: TestTime.zone("UTC"), retention: Retention(last: 1, daily: 2, within: 7200))
        let snapshots =
            ["2026-11-19T10:00:00", "2026-11-22T10:00:00", "2026-11-23T10:00:00", "2026-11-24T09:00:00", "2026-11-24T10:00:00"]
            .map { SnapshotInfo(id: $0, vm: "elsa", createdAt: TestTime.utc($0), policy: "p") }
            + [
                SnapshotInfo(id: "manual", vm: "elsa", createdAt: TestTime.utc("2026-11-20"), policy: nil),
                SnapshotInfo(
                    id: "cloned", vm: "elsa", createdAt: TestTime.utc("2026-11-21"), inUseBy: ["clone web2"],
                    policy: "p"),
            ]
        let plan = Planner.plan(
            policies: try PolicySet(policies: [policy]), snapshots: snapshots, vms: ["elsa"],
            now: TestTime.utc("2026-11-24T10:30:00"))
        #expect(
            plan.decisions.map(\.description) == [
                "pruned: not selected by any keep rule",
                "kept by keep-daily (2026-11-22)",
                "kept by keep-daily (2026-11-23)",
                "kept by within 2h",
                "kept by keep-last (#1)",
                "kept: taken by hand, policies never prune it",
                "in use by clone web2",
            ])
    }
}
