import AmberTestSupport
import Foundation
import Testing
@testable import AmberPolicy

@Suite("Planner: schedules, ownership, conflicts")
struct PlannerTests {
    static func policies(_ files: [(String, String)]) throws -> PolicySet {
        try PolicySet(files: files.map { (name: $0.0, text: $0.1) }, defaultTimeZone: TestTime.zone("UTC"))
    }

    static let hourly = try! policies([("web.yaml", "name: web\nvms: [\"web*\"]\nschedule: hourly\nkeep: {last: 2}\n")])

    static func snapshot(_ id: String, _ vm: String, _ time: String, policy: String? = "web") -> SnapshotInfo {
        SnapshotInfo(id: id, vm: vm, createdAt: TestTime.utc(time), policy: policy)
    }

    @Test func notDueBetweenSlots() {
        let plan = Planner.plan(
            policies: Self.hourly, snapshots: [Self.snapshot("a", "web1", "2026-11-24 10:00")],
            vms: ["web1"], now: TestTime.utc("2026-11-24 10:30"))
        #expect(plan.schedules.count == 1)
        #expect(plan.schedules[0].isDue == false)
        #expect(plan.schedules[0].lastRun == TestTime.utc("2026-11-24 10:00"))
        #expect(plan.schedules[0].nextRun == TestTime.utc("2026-11-24 11:00"))
    }

    /// Three slots were missed (11:00, 12:00, 13:00): the plan asks for one catch-up run, not three.
    @Test func missedSlotsAreOneCatchUp() {
        let plan = Planner.plan(
            policies: Self.hourly, snapshots: [Self.snapshot("a", "web1", "2026-11-24 10:00")],
            vms: ["web1"], now: TestTime.utc("2026-11-24 13:20"))
        #expect(plan.due.count == 1)
        #expect(plan.due[0].nextRun == TestTime.utc("2026-11-24 11:00"))
        #expect(plan.due[0].memory)
    }

    @Test func neverRunWaitsForTheFirstSlot() {
        let plan = Planner.plan(
            policies: Self.hourly, snapshots: [], vms: ["web1", "db1"],
            now: TestTime.utc("2026-11-24 10:30"))
        #expect(plan.schedules.map(\.vm) == ["web1"])
        #expect(plan.schedules[0].isDue == false)
        #expect(plan.schedules[0].nextRun == TestTime.utc("2026-11-24 11:00"))
    }

    @Test func trackedLastRunWins() {
        let plan = Planner.plan(
            policies: Self.hourly, snapshots: [Self.snapshot("a", "web1", "2026-11-24 08:00")],
            vms: ["web1"], now: TestTime.utc("2026-11-24 10:30"),
            lastRuns: [ScheduleKey(policy: "web", vm: "web1"): TestTime.utc("2026-11-24 10:00")])
        #expect(plan.schedules[0].isDue == false)
    }

    /// Manual snapshots do not count as a scheduled run and are never pruned by the schedule.
    @Test func manualSnapshotsAreLeftAlone() {
        let snapshots = [
            Self.snapshot("m", "web1", "2026-11-24 10:10", policy: nil),
            Self.snapshot("a", "web1", "2026-11-24 07:00"), Self.snapshot("b", "web1", "2026-11-24 08:00"),
            Self.snapshot("c", "web1", "2026-11-24 09:00"),
        ]
        let plan = Planner.plan(
            policies: Self.hourly, snapshots: snapshots, vms: ["web1"],
            now: TestTime.utc("2026-11-24 10:30"))
        #expect(plan.pruned.map(\.id) == ["a"])
        #expect(plan.decisions[0].reason == .manual)
        #expect(plan.due.count == 1)
    }

    @Test func snapshotsOfUnmatchedVMsAreKept() {
        let snapshots = (0..<5).map { Self.snapshot("d\($0)", "db1", "2026-11-2\($0) 10:00") }
        let plan = Planner.plan(
            policies: Self.hourly, snapshots: snapshots, vms: ["db1"],
            now: TestTime.utc("2026-11-26 10:30"))
        #expect(plan.pruned.isEmpty)
        #expect(plan.decisions.allSatisfy { $0.reason == .noPolicy(vm: "db1") })
        #expect(plan.decisions[0].description == "kept: no policy applies to VM db1")
    }

    /// Two globs that the files alone cannot show to overlap: the VM they share is reported, and neither
    /// snapshotted nor pruned.
    @Test func globOverlapIsAConflictAtPlanTime() throws {
        let set = try Self.policies([
            ("a.yaml", "name: web\nvms: [\"web-*\"]\nschedule: hourly\nkeep: {last: 1}\n"),
            ("b.yaml", "name: prod\nvms: [\"*-prod\"]\nschedule: daily\nkeep: {last: 1}\n"),
        ])
        let snapshots = (0..<3).map { Self.snapshot("s\($0)", "web-prod", "2026-11-2\($0) 10:00") }
        let plan = Planner.plan(
            policies: set, snapshots: snapshots, vms: ["web-prod", "web-dev"],
            now: TestTime.utc("2026-11-26 10:30"))
        #expect(plan.conflicts == [PolicyConflict(vm: "web-prod", policies: ["web", "prod"])])
        #expect(plan.schedules.map(\.vm) == ["web-dev"])
        #expect(plan.pruned.isEmpty)
        #expect(
            plan.conflicts[0].description == "VM web-prod is matched by policies 'web' and 'prod'; "
                + "a VM may belong to one policy only, narrow one of the vms lists")
    }

    @Test func maxStoredPrunesTheOldestKeptFirst() throws {
        let set = try Self.policies([
            (
                "a.yaml",
                "name: web\nvms: [web1]\nschedule: hourly\nkeep: {last: 10}\n"
                    + "max_stored: 3K\n"
            )
        ])
        let snapshots = (0..<5).map {
            SnapshotInfo(
                id: "s\($0)", vm: "web1", createdAt: TestTime.utc("2026-11-2\($0) 10:00"), sizeBytes: 1024,
                isProtected: $0 == 0, policy: "web")
        }
        let plan = Planner.plan(policies: set, snapshots: snapshots, vms: ["web1"], now: TestTime.utc("2026-11-26"))
        #expect(plan.pruned.map(\.id) == ["s1", "s2"])
        #expect(plan.decisions[1].description == "pruned: over max_stored 3K (was kept by keep-last (#4))")
    }

    @Test func withinAloneStillKeepsTheNewest() throws {
        let set = try Self.policies([("a.yaml", "name: web\nvms: [web1]\nschedule: hourly\nwithin: 1d\n")])
        let snapshots = (0..<3).map { Self.snapshot("s\($0)", "web1", "2026-11-1\($0) 10:00") }
        let plan = Planner.plan(policies: set, snapshots: snapshots, vms: ["web1"], now: TestTime.utc("2026-11-26"))
        #expect(plan.pruned.map(\.id) == ["s0", "s1"])
        #expect(plan.decisions[2].reason == .keptNewest)
    }

    /// Every kind of snapshot, with VMs interleaved in the input, gets its own decision.
    @Test func everySnapshotGetsItsDecision() throws {
        let set = try Self.policies([
            ("a.yaml", "name: web\nvms: [\"web-*\"]\nschedule: hourly\nkeep: {last: 1}\n"),
            ("b.yaml", "name: prod\nvms: [\"*-prod\"]\nschedule: daily\n"),
        ])
        var snapshots = [
            Self.snapshot("owned-old", "web-1", "2026-11-20 10:00"),
            Self.snapshot("other-vm", "db-1", "2026-11-20 10:00"),
            Self.snapshot("owned-new", "web-1", "2026-11-21 10:00"),
            Self.snapshot("manual", "web-1", "2026-11-21 11:00", policy: nil),
            Self.snapshot("foreign", "web-1", "2026-11-21 12:00", policy: "gone"),
            Self.snapshot("conflicted", "web-prod", "2026-11-21 12:00"),
            Self.snapshot("protected-manual", "web-1", "2026-11-19 12:00", policy: nil),
        ]
        snapshots[6].isProtected = true
        let plan = Planner.plan(policies: set, snapshots: snapshots, vms: [], now: TestTime.utc("2026-11-26"))
        #expect(
            plan.decisions.map(\.reason) == [
                .notSelected, .noPolicy(vm: "db-1"), .keptByLast(ordinal: 1), .manual, .foreignPolicy("gone"),
                .conflict(vm: "web-prod", policies: ["web", "prod"]), .protected,
            ])
    }

    @Test func encodesAsJSON() throws {
        let plan = Planner.plan(
            policies: Self.hourly,
            snapshots: [
                Self.snapshot("a", "web1", "2026-11-24 10:00"),
                Self.snapshot("b", "web1", "2026-11-24 09:00"),
                Self.snapshot("c", "web1", "2026-11-24 08:00"),
            ],
            vms: ["web1"], now: TestTime.utc("2026-11-24 11:30"))
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        let json = try #require(try JSONSerialization.jsonObject(with: encoder.encode(plan)) as? [String: Any])
        let snapshots = try #require(json["snapshots"] as? [[String: Any]])
        #expect(snapshots.map { $0["action"] as? String } == ["keep", "keep", "prune"])
        #expect(snapshots[2]["reason"] as? String == "pruned: not selected by any keep rule")
        #expect(snapshots[0]["created"] as? String == "2026-11-24T10:00:00Z")
        let schedules = try #require(json["schedules"] as? [[String: Any]])
        #expect(schedules.first?["due"] as? Bool == true)
        #expect(schedules.first?["nextRun"] as? String == "2026-11-24T11:00:00Z")
    }

    /// Catalog order does not matter: shuffled input gives the same decisions per snapshot.
    @Test func inputOrderDoesNotMatter() {
        var random = SeededGenerator(seed: 7)
        let snapshots = (0..<200).map {
            Self.snapshot("s\($0)", "web\($0 % 3)", "2026-11-01 00:00").with(offset: Double($0) * 3000)
        }
        let sorted = Planner.plan(policies: Self.hourly, snapshots: snapshots, vms: [], now: TestTime.utc("2026-12-01"))
        let shuffled = Planner.plan(
            policies: Self.hourly, snapshots: snapshots.shuffled(using: &random), vms: [],
            now: TestTime.utc("2026-12-01"))
        let byID = { (plan: Plan) in
            Dictionary(uniqueKeysWithValues: zip(plan.snapshots.map(\.id), plan.decisions.map(\.action)))
        }
        #expect(byID(sorted) == byID(shuffled))
        #expect(sorted.pruned.count == 200 - 6)
    }
}

extension SnapshotInfo {
    func with(offset: TimeInterval) -> SnapshotInfo {
        var copy = self
        copy.createdAt = createdAt.addingTimeInterval(offset)
        return copy
    }
}
