import Foundation

/// One snapshot policy, as read from a `policies/*.yaml` file.
public struct Policy: Sendable, Hashable {
    public var name: String
    /// VM names and globs (`*`, `?`, `[a-z]`) this policy applies to.
    public var vms: [VMPattern]
    public var schedule: CalendarEvent
    /// Zone the schedule and the retention buckets (hour, day, week...) are evaluated in; the host's when unset.
    public var timeZone: TimeZone
    /// Whether snapshots include guest memory (false: disk only, crash-consistent).
    public var memory: Bool
    public var retention: Retention
    /// Where it was defined, for messages.
    public var source: SourceLocation

    public init(
        name: String, vms: [VMPattern], schedule: CalendarEvent, timeZone: TimeZone, memory: Bool = true,
        retention: Retention, source: SourceLocation = SourceLocation(file: "<inline>", line: 1)
    ) {
        self.name = name
        self.vms = vms
        self.schedule = schedule
        self.timeZone = timeZone
        self.memory = memory
        self.retention = retention
        self.source = source
    }

    public func applies(to vm: String) -> Bool {
        vms.contains { $0.matches(vm) }
    }
}

/// How many snapshots to keep. Counts follow Proxmox Backup Server's `keep-*` options; see `RetentionEngine`.
public struct Retention: Sendable, Hashable {
    public var last = 0
    public var hourly = 0
    public var daily = 0
    public var weekly = 0
    public var monthly = 0
    public var yearly = 0
    /// Also keep every snapshot newer than now minus this many seconds.
    public var within: TimeInterval?
    /// Space budget per VM, in bytes: the oldest kept snapshots go first when the VM's snapshots exceed it.
    public var maxStoredBytes: UInt64?

    public init(
        last: Int = 0, hourly: Int = 0, daily: Int = 0, weekly: Int = 0, monthly: Int = 0, yearly: Int = 0,
        within: TimeInterval? = nil, maxStoredBytes: UInt64? = nil
    ) {
        self.last = last
        self.hourly = hourly
        self.daily = daily
        self.weekly = weekly
        self.monthly = monthly
        self.yearly = yearly
        self.within = within
        self.maxStoredBytes = maxStoredBytes
    }

    /// No keep rule and no `within`: like Proxmox without keep options, everything is kept.
    public var keepsEverything: Bool {
        KeepRule.allCases.allSatisfy { count(for: $0) == 0 } && within == nil
    }

    /// `max_stored` as policy files write it (`20G`); nil without a budget.
    public var maxStoredText: String? { maxStoredBytes.map(PolicyValues.formatSize) }

    public func count(for rule: KeepRule) -> Int {
        switch rule {
        case .last: last
        case .hourly: hourly
        case .daily: daily
        case .weekly: weekly
        case .monthly: monthly
        case .yearly: yearly
        }
    }
}

/// The keep rules in the order they are applied.
public enum KeepRule: String, Sendable, CaseIterable, Codable {
    case last, hourly, daily, weekly, monthly, yearly
}

/// Where something was written: file and 1-based line.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }
    public var description: String { "\(file):\(line)" }
}
