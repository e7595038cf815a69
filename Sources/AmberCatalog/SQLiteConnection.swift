import CSQLite
import Foundation

/// One SQLite connection: prepared statements (cached by SQL text) and transactions. Not thread-safe:
/// `Catalog` confines it to its serial queue.
public final class SQLiteConnection {
    let handle: OpaquePointer
    let path: String
    private var statements: [String: SQLiteStatement] = [:]

    init(path: String, busyTimeoutMilliseconds: Int32 = 30_000) throws {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let code = sqlite3_open_v2(path, &db, flags, nil)
        guard code == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            sqlite3_close(db)
            let reason = code == SQLITE_CANTOPEN ? "cannot open the file; check that its directory exists and is writable" : message
            throw CatalogError.sqlite(operation: "open \(path)", code: code, message: reason)
        }
        handle = db
        self.path = path
        sqlite3_busy_timeout(db, busyTimeoutMilliseconds)
        sqlite3_extended_result_codes(db, 1)
    }

    deinit {
        statements = [:]
        sqlite3_close_v2(handle)
    }

    /// Runs SQL without results (several statements allowed).
    public func execute(_ sql: String) throws {
        var error: UnsafeMutablePointer<CChar>?
        let code = sqlite3_exec(handle, sql, nil, nil, &error)
        let message = error.map { String(cString: $0) } ?? ""
        sqlite3_free(error)
        try check(code, sql, message: message)
    }

    /// A prepared statement for `sql`, reset and with bindings cleared.
    public func statement(_ sql: String) throws -> SQLiteStatement {
        if let cached = statements[sql] {
            cached.reset()
            return cached
        }
        var pointer: OpaquePointer?
        try check(sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &pointer, nil), "prepare \(sql)")
        let statement = SQLiteStatement(pointer!, connection: self)
        statements[sql] = statement
        return statement
    }

    /// Runs `body` in one transaction: BEGIN IMMEDIATE takes the write lock up front, so two processes
    /// never deadlock upgrading read locks; any error rolls everything back.
    public func transaction<T>(immediate: Bool = true, _ body: () throws -> T) throws -> T {
        try execute(immediate ? "BEGIN IMMEDIATE" : "BEGIN")
        do {
            let result = try body()
            // A statement stepped to a row but not to its end would keep the transaction open.
            for statement in statements.values { statement.reset() }
            try execute("COMMIT")
            return result
        } catch {
            for statement in statements.values { statement.reset() }
            try? execute("ROLLBACK")
            throw error
        }
    }

    public var changes: Int { Int(sqlite3_changes(handle)) }

    func check(_ code: Int32, _ operation: @autoclosure () -> String, message: String? = nil) throws {
        guard code != SQLITE_OK, code != SQLITE_ROW, code != SQLITE_DONE else { return }
        let primary = code & 0xFF
        if primary == SQLITE_FULL { throw CatalogError.noSpace(path: path) }
        if primary == SQLITE_NOTADB { throw CatalogError.notACatalog(path: path) }
        if primary == SQLITE_IOERR, errno == ENOSPC { throw CatalogError.noSpace(path: path) }
        let text = (message?.isEmpty == false ? message : nil) ?? String(cString: sqlite3_errmsg(handle))
        throw CatalogError.sqlite(operation: operation(), code: code, message: text)
    }
}

extension SQLiteConnection {
    var sqlite3LastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
}
