/// What the catalog refuses, each a one-line explanation naming the thing and what to do.
public enum CatalogError: Error, CustomStringConvertible, Equatable {
    case notACatalog(path: String)
    case newerSchema(path: String, migration: String)
    case noSpace(path: String)
    case duplicate(what: String)
    case notFound(what: String)
    case sqlite(operation: String, code: Int32, message: String)
    /// A snapshot row holding a value no snapshot can have.
    case damagedSnapshotRow(id: String, problem: String)

    public var description: String {
        switch self {
        case .notACatalog(let path):
            return "\(path) is not an Amber catalog (not an SQLite database); move it aside or point --home elsewhere"
        case .newerSchema(let path, let migration):
            return "the catalog \(path) was written by a newer amber (it has migration '\(migration)'); upgrade amber to use it"
        case .noSpace(let path):
            return "no space left on the device holding \(path); free some space and retry"
        case .duplicate(let what):
            return "\(what) already exists"
        case .notFound(let what):
            return "\(what) does not exist"
        case .sqlite(let operation, let code, let message):
            return "catalog \(operation) failed: \(message) (SQLite code \(code))"
        case .damagedSnapshotRow(let id, let problem):
            return
                "the catalog's row for snapshot \(id) is damaged (\(problem)); remove it with `amber snapshot rm \(id)` or restore catalog.db from a copy"
        }
    }
}
