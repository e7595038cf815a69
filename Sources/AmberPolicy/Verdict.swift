/// A decision in two bytes: what `Reason` it stands for, without the reason's payloads (bucket labels, keep-last
/// ordinals, users, names), which `VMPlan.decision(at:)` recovers only for the snapshots shown. A million of them
/// is 2 MB of fresh memory to fault in, not the 24 MB of `Decision`s.
public struct Verdict: Sendable, Hashable {
    public enum Kind: UInt8, Sendable, CaseIterable {
        case keptByLast, keptHourly, keptDaily, keptWeekly, keptMonthly, keptYearly
        case keptWithin, keptNewest, keptAll, protected, inUse, manual, noPolicy, foreignPolicy, conflict
        case notSelected
    }

    public var kind: Kind
    /// Would be kept by `kind`, but `max_stored` prunes it.
    public var overBudget: Bool

    init(_ kind: Kind, overBudget: Bool = false) {
        self.kind = kind
        self.overBudget = overBudget
    }

    public var action: Decision.Action { kind == .notSelected || overBudget ? .prune : .keep }

    static func kept(by rule: KeepRule) -> Kind {
        switch rule {
        case .last: .keptByLast
        case .hourly: .keptHourly
        case .daily: .keptDaily
        case .weekly: .keptWeekly
        case .monthly: .keptMonthly
        case .yearly: .keptYearly
        }
    }

    /// The keep rule of a `kept...` kind by a rule; nil for other kinds.
    public var rule: KeepRule? { kind.rule }
}

extension Verdict.Kind {
    /// The keep rule of a `kept...` kind by a rule; nil for other kinds.
    public var rule: KeepRule? {
        switch self {
        case .keptByLast: .last
        case .keptHourly: .hourly
        case .keptDaily: .daily
        case .keptWeekly: .weekly
        case .keptMonthly: .monthly
        case .keptYearly: .yearly
        default: nil
        }
    }
}
