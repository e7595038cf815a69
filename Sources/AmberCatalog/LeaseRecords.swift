import Foundation
import Glibc

/// A process's claim on a manifest: while the holder lives, gc treats the manifest as referenced (a
/// clone reading a snapshot's memory lazily keeps it even if the snapshot is pruned meanwhile).
public struct LeaseRecord: Equatable, Sendable {
    public var id: Int64
    public var holderPID: Int32
    public var purpose: String
    public var manifest: [UInt8]?
    public var created: Date

    /// Whether the holding process still exists (a lease of a killed process is stale).
    public var holderIsAlive: Bool { kill(holderPID, 0) == 0 || errno == EPERM }
}

extension SQLiteConnection {
    /// Records a lease held by this process; returns its id.
    public func insertLease(purpose: String, manifest: [UInt8]?) throws -> Int64 {
        try statement("INSERT INTO leases (holder_pid, purpose, manifest, created) VALUES (?, ?, ?, ?)")
            .bind(.integer(Int64(getpid())), .text(purpose), manifest.map { .blob($0) }, .real(Date().timeIntervalSince1970))
            .run()
        return sqlite3LastInsertRowID
    }

    public func deleteLease(id: Int64) throws {
        try statement("DELETE FROM leases WHERE id = ?").bind(.integer(id)).run()
    }

    public func leases() throws -> [LeaseRecord] {
        try statement("SELECT id, holder_pid, purpose, manifest, created FROM leases ORDER BY id").rows {
            LeaseRecord(
                id: $0.int64(0), holderPID: Int32($0.int64(1)), purpose: $0.text(2), manifest: $0.optionalBlob(3),
                created: Date(timeIntervalSince1970: $0.double(4)))
        }
    }
}
