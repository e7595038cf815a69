import Dispatch
import Foundation
import Glibc

/// The SQLite catalog: images, chunks, packs, leases, VMs and snapshots. One connection confined to
/// its own serial queue (never Swift's cooperative pool: SQLite blocks). WAL mode plus a busy timeout
/// let the CLI, the daemon and VMM managers use one catalog at once.
/// Unchecked: the connection (SQLite's handle, not thread-safe) is used only on `queue`, a serial queue, which
/// the compiler cannot see; every use goes through `onQueue`.
public final class Catalog: @unchecked Sendable {
    public let path: String
    private let queue: DispatchQueue
    private let connection: SQLiteConnection
    private let queueKey = DispatchSpecificKey<Void>()

    /// Opens (creating if needed) and migrates the catalog at `path`.
    public init(path: String) throws {
        self.path = path
        queue = DispatchQueue(label: "amber.catalog")
        queue.setSpecific(key: queueKey, value: ())
        connection = try queue.sync {
            if let attributes = try? FileManager.default.attributesOfItem(atPath: path),
                attributes[.type] as? FileAttributeType == .typeDirectory
            {
                throw CatalogError.notACatalog(path: path)
            }
            // SQLite would create the file 0644 (less the umask), and its -wal and -shm files take the
            // database's mode: created owner-only here first, all three are. Only when it does not exist
            // (O_EXCL): closing a descriptor of a database this process already has open drops every POSIX
            // lock the process holds on it (fcntl semantics), and another process's SQLite then takes itself
            // for the last connection and checkpoints and deletes the WAL under this one (seen: amberd's
            // commits lost and "disk I/O error" while its gc child closed the catalog). A failure is left for
            // SQLite to report.
            let created = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if created >= 0 { close(created) }
            let db = try SQLiteConnection(path: path)
            do {
                try db.execute("PRAGMA journal_mode = WAL")
            } catch CatalogError.sqlite(_, let code, _) where code & 0xFF == 26 {  // SQLITE_NOTADB
                throw CatalogError.notACatalog(path: path)
            }
            // FULL: a commit is on disk when it returns; an import the user saw succeed survives power loss.
            try db.execute("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON")
            try Migrations.migrate(db)
            return db
        }
    }

    /// Runs `body` on the catalog's queue, in a read transaction (one consistent view).
    public func read<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try onQueue { try connection.transaction(immediate: false) { try body(connection) } }
    }

    /// Runs `body` on the catalog's queue in one write transaction: all of it commits or none of it.
    public func write<T>(_ body: (SQLiteConnection) throws -> T) throws -> T {
        try onQueue { try connection.transaction(immediate: true) { try body(connection) } }
    }

    /// Names of the migrations applied, in order.
    public func appliedMigrations() throws -> [String] {
        try read { try $0.statement("SELECT name FROM schema_migrations ORDER BY name").rows { $0.text(0) } }
    }

    public static var knownMigrations: [String] { Migrations.all.map(\.name) }

    private func onQueue<T>(_ body: () throws -> T) throws -> T {
        precondition(DispatchQueue.getSpecific(key: queueKey) == nil, "catalog re-entered from its own queue")
        return try queue.sync(execute: body)
    }
}
