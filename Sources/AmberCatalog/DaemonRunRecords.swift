import Foundation

/// What amberd last did for one job: a policy's schedule applied to one VM, or the store GC. It outlives the
/// daemon, so a restarted amberd knows which runs it missed (and catches them up once) and
/// `amber policy status` can show it.
public struct DaemonRunRecord: Equatable, Sendable {
    /// What kind of job: `DaemonRunRecord.policyJob` or `DaemonRunRecord.gcJob`.
    public var job: String
    /// The policy's name (empty for the GC).
    public var name: String
    /// The VM (empty for the GC).
    public var vm: String
    /// When the job last ran (successfully or not, or was skipped).
    public var lastRun: Date
    /// How that run ended, one line: "snapshot 1a2b3c4d", "skipped: VM not running", "failed: ...".
    public var outcome: String
    /// The newest error, kept after later successes so an operator sees what went wrong last.
    public var lastError: String?
    public var lastErrorAt: Date?

    public static let policyJob = "policy"
    public static let gcJob = "gc"

    public init(
        job: String, name: String, vm: String, lastRun: Date, outcome: String, lastError: String? = nil,
        lastErrorAt: Date? = nil
    ) {
        self.job = job
        self.name = name
        self.vm = vm
        self.lastRun = lastRun
        self.outcome = outcome
        self.lastError = lastError
        self.lastErrorAt = lastErrorAt
    }
}

extension SQLiteConnection {
    /// Records a run. An error replaces the remembered last error; a run without one keeps it.
    public func recordDaemonRun(
        job: String, name: String, vm: String, at time: Date, outcome: String,
        error: String? = nil
    ) throws {
        try statement(
            """
            INSERT INTO daemon_runs (job, name, vm, last_run, outcome, last_error, last_error_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (job, name, vm) DO UPDATE SET
                last_run = excluded.last_run, outcome = excluded.outcome,
                last_error = COALESCE(excluded.last_error, last_error),
                last_error_at = COALESCE(excluded.last_error_at, last_error_at)
            """
        )
        .bind(
            .text(job), .text(name), .text(vm), .real(time.timeIntervalSince1970), .text(outcome),
            error.map { .text($0) }, error.map { _ in .real(time.timeIntervalSince1970) }
        )
        .run()
    }

    public func daemonRuns() throws -> [DaemonRunRecord] {
        try statement(
            """
            SELECT job, name, vm, last_run, outcome, last_error, last_error_at FROM daemon_runs ORDER BY job, name, vm
            """
        ).rows { row in
            DaemonRunRecord(
                job: row.text(0), name: row.text(1), vm: row.text(2),
                lastRun: Date(timeIntervalSince1970: row.double(3)), outcome: row.text(4),
                lastError: row.optionalText(5),
                lastErrorAt: row.isNull(6) ? nil : Date(timeIntervalSince1970: row.double(6)))
        }
    }
}
