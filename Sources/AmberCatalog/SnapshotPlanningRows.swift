import Foundation

extension SQLiteConnection {
    /// When the newest snapshot a policy took of a VM was created; nil if it took none.
    public func newestSnapshotTime(vm: String, policy: String) throws -> Date? {
        let statement = try self.statement("SELECT MAX(created) FROM snapshots WHERE vm = ? AND policy = ?")
            .bind(.text(vm), .text(policy))
        guard try statement.step(), !statement.isNull(0) else { return nil }
        return Date(timeIntervalSince1970: statement.double(0))
    }
}
