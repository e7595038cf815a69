import CSQLite

private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A prepared statement. Bind parameters by 1-based position, then `step()` through the rows.
public final class SQLiteStatement {
    let pointer: OpaquePointer
    unowned let connection: SQLiteConnection

    init(_ pointer: OpaquePointer, connection: SQLiteConnection) {
        self.pointer = pointer
        self.connection = connection
    }

    deinit {
        sqlite3_finalize(pointer)
    }

    func reset() {
        sqlite3_reset(pointer)
        sqlite3_clear_bindings(pointer)
    }

    @discardableResult
    public func bind(_ values: SQLiteValue?...) throws -> SQLiteStatement {
        try bind(values)
    }

    @discardableResult
    public func bind(_ values: [SQLiteValue?]) throws -> SQLiteStatement {
        sqlite3_reset(pointer)
        for (offset, value) in values.enumerated() {
            let index = Int32(offset + 1)
            let code: Int32
            switch value {
            case nil: code = sqlite3_bind_null(pointer, index)
            case .integer(let v): code = sqlite3_bind_int64(pointer, index, v)
            case .real(let v): code = sqlite3_bind_double(pointer, index, v)
            case .text(let v): code = sqlite3_bind_text(pointer, index, v, -1, transient)
            case .blob(let v):
                code = v.withUnsafeBytes {
                    sqlite3_bind_blob(pointer, index, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(v.count), transient)
                }
            }
            try connection.check(code, "bind")
        }
        return self
    }

    /// Advances to the next row; false when there are no more.
    public func step() throws -> Bool {
        let code = sqlite3_step(pointer)
        if code == SQLITE_ROW { return true }
        if code == SQLITE_DONE { return false }
        let sql = String(cString: sqlite3_sql(pointer))
        sqlite3_reset(pointer)
        try connection.check(code, sql)
        return false
    }

    /// Runs a statement that returns no rows.
    public func run() throws {
        _ = try step()
        sqlite3_reset(pointer)
    }

    /// Every row, mapped.
    public func rows<T>(_ map: (SQLiteStatement) throws -> T) throws -> [T] {
        var result: [T] = []
        while try step() { result.append(try map(self)) }
        return result
    }

    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(pointer, column) == SQLITE_NULL }
    public func int64(_ column: Int32) -> Int64 { sqlite3_column_int64(pointer, column) }
    public func int(_ column: Int32) -> Int { Int(sqlite3_column_int64(pointer, column)) }
    public func double(_ column: Int32) -> Double { sqlite3_column_double(pointer, column) }

    public func text(_ column: Int32) -> String {
        guard let bytes = sqlite3_column_text(pointer, column) else { return "" }
        return String(cString: bytes)
    }

    public func optionalText(_ column: Int32) -> String? { isNull(column) ? nil : text(column) }

    public func blob(_ column: Int32) -> [UInt8] {
        let count = Int(sqlite3_column_bytes(pointer, column))
        guard count > 0, let bytes = sqlite3_column_blob(pointer, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: bytes, count: count))
    }

    public func optionalBlob(_ column: Int32) -> [UInt8]? { isNull(column) ? nil : blob(column) }
}

public enum SQLiteValue {
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])

    public static func int(_ value: Int) -> SQLiteValue { .integer(Int64(value)) }
}
