import Foundation

/// JSON for `amber policy plan --json`: every snapshot with its action and reason, every schedule, every conflict.
/// Dates follow the encoder's `dateEncodingStrategy`.
extension Plan: Encodable {
    private enum Keys: String, CodingKey { case now, snapshots, schedules, conflicts }
    private enum SnapshotKeys: String, CodingKey { case id, vm, created, action, reason }
    private enum ScheduleKeys: String, CodingKey { case policy, vm, memory, lastRun, due, nextRun }
    private enum ConflictKeys: String, CodingKey { case vm, policies, message }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(now, forKey: .now)
        var snapshotList = container.nestedUnkeyedContainer(forKey: .snapshots)
        for (snapshot, decision) in zip(snapshots, decisions) {
            var entry = snapshotList.nestedContainer(keyedBy: SnapshotKeys.self)
            try entry.encode(snapshot.id, forKey: .id)
            try entry.encode(snapshot.vm, forKey: .vm)
            try entry.encode(snapshot.createdAt, forKey: .created)
            try entry.encode(decision.action, forKey: .action)
            try entry.encode(decision.description, forKey: .reason)
        }
        var scheduleList = container.nestedUnkeyedContainer(forKey: .schedules)
        for schedule in schedules {
            var entry = scheduleList.nestedContainer(keyedBy: ScheduleKeys.self)
            try entry.encode(schedule.policy, forKey: .policy)
            try entry.encode(schedule.vm, forKey: .vm)
            try entry.encode(schedule.memory, forKey: .memory)
            try entry.encodeIfPresent(schedule.lastRun, forKey: .lastRun)
            try entry.encode(schedule.isDue, forKey: .due)
            try entry.encodeIfPresent(schedule.nextRun, forKey: .nextRun)
        }
        var conflictList = container.nestedUnkeyedContainer(forKey: .conflicts)
        for conflict in conflicts {
            var entry = conflictList.nestedContainer(keyedBy: ConflictKeys.self)
            try entry.encode(conflict.vm, forKey: .vm)
            try entry.encode(conflict.policies, forKey: .policies)
            try entry.encode(conflict.description, forKey: .message)
        }
    }
}
