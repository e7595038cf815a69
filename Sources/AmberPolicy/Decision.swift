import Foundation

/// Keep or prune one snapshot, and why. The reason decides the action, so the two cannot disagree.
public struct Decision: Sendable, Hashable, CustomStringConvertible {
    public enum Action: String, Sendable, Hashable, Codable { case keep, prune }

    public var reason: Reason

    public init(_ reason: Reason) {
        self.reason = reason
    }

    public var action: Action {
        switch reason {
        case .notSelected, .overBudget: .prune
        default: .keep
        }
    }

    public var description: String { reason.description }
}

/// Why a snapshot is kept or pruned. Labels are rendered only when asked for, so planning a million snapshots
/// does not format a million strings; rare, large payloads are boxed (`indirect`) to keep a plan compact.
public enum Reason: Sendable, Hashable, CustomStringConvertible {
    /// Selected by keep-last; `ordinal` counts from the newest (1).
    case keptByLast(ordinal: Int)
    /// Selected by keep-hourly ... keep-yearly; `localTime` is the snapshot's wall-clock time (seconds) in the
    /// policy's zone, naming its bucket.
    case keptByRule(KeepRule, localTime: Int)
    case keptWithin(TimeInterval)
    /// The VM's newest snapshot a policy owns is always kept, even when `within` alone would drop it.
    case keptNewest
    /// The policy has neither keep rules nor `within`: it keeps everything (as Proxmox does without keep options).
    case keptAll
    case protected
    case inUse(by: [String])
    /// Taken by hand: schedules never prune it.
    case manual
    /// No policy applies to the snapshot's VM.
    case noPolicy(vm: String)
    /// Taken by a policy that does not (or no longer) apply to its VM.
    case foreignPolicy(String)
    /// The VM matches more than one policy; nothing is pruned until that is fixed.
    indirect case conflict(vm: String, policies: [String])
    case notSelected
    /// Would have been kept, but the VM's snapshots exceed the policy's `max_stored`.
    indirect case overBudget(maxStored: UInt64, wouldKeep: Reason)

    public var description: String {
        switch self {
        case .keptByLast(let ordinal): "kept by keep-last (#\(ordinal))"
        case .keptByRule(let rule, let localTime):
            "kept by keep-\(rule.rawValue) (\(Self.bucketLabel(rule, localTime: localTime)))"
        case .keptWithin(let seconds): "kept by within \(PolicyValues.formatDuration(seconds))"
        case .keptNewest: "kept: newest snapshot of the VM"
        case .keptAll: "kept: the policy has no keep rules, so it keeps everything"
        case .protected: "protected"
        case .inUse(let users): "in use by \(users.joined(separator: ", "))"
        case .manual: "kept: taken by hand, policies never prune it"
        case .noPolicy(let vm): "kept: no policy applies to VM \(vm)"
        case .foreignPolicy(let name): "kept: taken by policy '\(name)', which does not apply to this VM"
        case .conflict(let vm, let policies):
            "kept: VM \(vm) is matched by policies \(policies.map { "'\($0)'" }.joined(separator: " and ")); "
                + "nothing is pruned until only one applies"
        case .notSelected: "pruned: not selected by any keep rule"
        case .overBudget(let maxStored, let wouldKeep):
            "pruned: over max_stored \(PolicyValues.formatSize(maxStored)) (was \(wouldKeep))"
        }
    }

    static func bucketLabel(_ rule: KeepRule, localTime: Int) -> String {
        let days = floorDivide(localTime, 86_400)
        let date = CivilDate(daysSinceEpoch: days)
        let hour = (localTime - days * 86_400) / 3600
        func two(_ value: Int) -> String { value < 10 ? "0\(value)" : "\(value)" }
        switch rule {
        case .last, .hourly: return "\(date.year)-\(two(date.month))-\(two(date.day)) \(two(hour)):00"
        case .daily: return "\(date.year)-\(two(date.month))-\(two(date.day))"
        case .weekly:
            let week = CivilDate.isoWeek(daysSinceEpoch: days)
            return "\(week.year)-W\(two(week.week))"
        case .monthly: return "\(date.year)-\(two(date.month))"
        case .yearly: return "\(date.year)"
        }
    }
}
