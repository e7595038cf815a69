import CSQLite
import Foundation

/// The few snapshot columns retention planning needs: `amber policy plan`, `amber prune` and amberd read every
/// snapshot of a catalog (a million rows on a big host), so this reads only the covering index
/// `snapshots_for_planning` and shares one String per VM and per policy name instead of building one per row.
public struct SnapshotPlanningRow: Sendable {
    public var id: String
    public var vm: String
    public var created: Date
    public var storedBytes: Int64
    public var protected: Bool
    public var policy: String?
}

extension SQLiteConnection {
    /// Every snapshot (of one VM when `vm` is given) ordered by VM, then creation time (the order the planner is
    /// fastest on), each mapped by `transform` as it is read.
    public func planningRows<T>(vm: String? = nil, _ transform: (SnapshotPlanningRow) throws -> T) throws -> [T] {
        let columns = "id, vm, created, stored_bytes, protected, policy"
        let statement = vm == nil
            ? try self.statement("SELECT \(columns) FROM snapshots ORDER BY vm, created, id")
            : try self.statement("SELECT \(columns) FROM snapshots WHERE vm = ? "
                + "ORDER BY created, id").bind(.text(vm!))
        var result: [T] = []
        var vmNames = InternedText()
        var policyNames = InternedText()
        while try statement.step() {
            let row = SnapshotPlanningRow(
                id: statement.text(0), vm: vmNames.text(statement, column: 1),
                created: Date(timeIntervalSince1970: statement.double(2)), storedBytes: statement.int64(3),
                protected: statement.int64(4) != 0,
                policy: statement.isNull(5) ? nil : policyNames.text(statement, column: 5))
            result.append(try transform(row))
        }
        return result
    }

    /// Snapshot rows as `planningRows(vm:_:)` orders them.
    public func planningRows(vm: String? = nil) throws -> [SnapshotPlanningRow] {
        try planningRows(vm: vm) { $0 }
    }

    /// When the newest snapshot a policy took of a VM was created; nil if it took none.
    public func newestSnapshotTime(vm: String, policy: String) throws -> Date? {
        let statement = try self.statement("SELECT MAX(created) FROM snapshots WHERE vm = ? AND policy = ?")
            .bind(.text(vm), .text(policy))
        guard try statement.step(), !statement.isNull(0) else { return nil }
        return Date(timeIntervalSince1970: statement.double(0))
    }
}

/// One String per distinct value of a text column; a value equal to the previous row's (rows come grouped by
/// VM) is recognised from its bytes, without building a String or hashing.
private struct InternedText {
    private var known: [String: String] = [:]
    private var lastBytes: [UInt8] = []
    private var last: String?

    mutating func text(_ statement: SQLiteStatement, column: Int32) -> String {
        let count = Int(sqlite3_column_bytes(statement.pointer, column))
        let pointer = sqlite3_column_text(statement.pointer, column)
        let current = UnsafeBufferPointer(start: pointer, count: pointer == nil ? 0 : count)
        if let last, current.elementsEqual(lastBytes) { return last }
        let decoded = String(decoding: current, as: UTF8.self)
        let text = known[decoded] ?? decoded
        known[decoded] = text
        lastBytes = Array(current)
        last = text
        return text
    }
}
