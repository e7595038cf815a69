import CSQLite
import Foundation

/// The few snapshot columns retention planning needs, read in one pass: `amber policy plan`, `amber prune` and
/// amberd read every snapshot of a catalog (a million rows on a big host), so this skips the manifests and
/// shares one String per VM and per policy name instead of building one per row.
public struct SnapshotPlanningRow: Sendable {
    public var id: String
    public var vm: String
    public var created: Date
    public var storedBytes: Int64
    public var protected: Bool
    public var policy: String?
}

extension SQLiteConnection {
    /// Calls `body` with every snapshot (of one VM when `vm` is given), ordered by VM, then creation time:
    /// the order the planner is fastest on.
    public func forEachPlanningRow(vm: String? = nil, _ body: (SnapshotPlanningRow) throws -> Void) throws {
        let columns = "id, vm, created, stored_bytes, protected, policy"
        let statement = vm == nil
            ? try self.statement("SELECT \(columns) FROM snapshots ORDER BY vm, created, id")
            : try self.statement("SELECT \(columns) FROM snapshots WHERE vm = ? ORDER BY created, id").bind(.text(vm!))
        var vmNames = InternedText()
        var policyNames = InternedText()
        while try statement.step() {
            let row = SnapshotPlanningRow(
                id: statement.text(0), vm: vmNames.text(statement, column: 1),
                created: Date(timeIntervalSince1970: statement.double(2)), storedBytes: statement.int64(3),
                protected: statement.int64(4) != 0,
                policy: statement.isNull(5) ? nil : policyNames.text(statement, column: 5))
            try body(row)
        }
    }

    /// Snapshot rows as `forEachPlanningRow` reads them.
    public func planningRows(vm: String? = nil) throws -> [SnapshotPlanningRow] {
        var rows: [SnapshotPlanningRow] = []
        try forEachPlanningRow(vm: vm) { rows.append($0) }
        return rows
    }
}

/// Returns the previous String when a text column repeats the previous row's bytes (rows come grouped by VM).
private struct InternedText {
    private var bytes: [UInt8] = []
    private var last = ""
    private var seen: [String: String] = [:]

    mutating func text(_ statement: SQLiteStatement, column: Int32) -> String {
        let count = Int(sqlite3_column_bytes(statement.pointer, column))
        guard count > 0, let pointer = sqlite3_column_text(statement.pointer, column) else { return "" }
        let current = UnsafeBufferPointer(start: pointer, count: count)
        if current.elementsEqual(bytes) { return last }
        bytes = Array(current)
        let decoded = String(decoding: current, as: UTF8.self)
        last = seen[decoded] ?? decoded
        seen[decoded] = last
        return last
    }
}

extension SQLiteConnection {
    /// When the newest snapshot a policy took of a VM was created; nil if it took none.
    public func newestSnapshotTime(vm: String, policy: String) throws -> Date? {
        let statement = try self.statement("SELECT MAX(created) FROM snapshots WHERE vm = ? AND policy = ?")
            .bind(.text(vm), .text(policy))
        guard try statement.step(), !statement.isNull(0) else { return nil }
        return Date(timeIntervalSince1970: statement.double(0))
    }
}
