import AmberCatalog

/// Snapshot ids: 64 random bits as 16 hex digits (32 bits made a collision likely enough to fail a
/// snapshot after all its data was read), shown shortened in tables and accepted as any unambiguous
/// prefix of at least `minimumPrefix` digits, as git does with commits. Ids of older stores (8 digits) work alike.
public enum SnapshotIDs {
    public static let minimumPrefix = 4
    /// What tables show: enough to tell snapshots apart in practice; `--json` always has the whole id.
    public static let shownLength = 12

    static func newID() -> String {
        let value = UInt64.random(in: 0...UInt64.max)
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    public static func shortened(_ id: String) -> String {
        String(id.prefix(shownLength))
    }

    /// The snapshot `text` names: its whole id, or a prefix only one id has.
    static func resolve(_ text: String, in db: SQLiteConnection) throws -> SnapshotRecord {
        if let exact = try db.snapshot(id: text) { return exact }
        let prefix = text.lowercased()
        guard prefix.count >= minimumPrefix, prefix.allSatisfy(\.isHexDigit) else { throw SnapshotError.unknownSnapshot(id: text) }
        let matches = try db.snapshotIDs(startingWith: prefix, limit: 5)
        guard let first = matches.first, let record = try db.snapshot(id: first) else { throw SnapshotError.unknownSnapshot(id: text) }
        guard matches.count == 1 else { throw SnapshotError.ambiguousSnapshot(prefix: text, matches: Array(matches.prefix(4))) }
        return record
    }
}
