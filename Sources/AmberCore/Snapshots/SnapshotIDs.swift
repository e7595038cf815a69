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

    /// The snapshot `text` names (`SnapshotReference.help` says how); `vm` scopes `latest` and labels to one VM's
    /// snapshots where the command names a VM. Every command that takes a snapshot resolves it here.
    static func resolve(_ text: String, vm: String? = nil, in db: SQLiteConnection) throws -> SnapshotRecord {
        if let exact = try db.snapshot(id: text) { return exact }
        if text == SnapshotReference.latest {
            guard let newest = try db.snapshots(vm: vm).max(by: { ($0.created, $0.id) < ($1.created, $1.id) }) else {
                throw vm.map { SnapshotError.noSnapshots(vm: $0) } ?? SnapshotError.unknownSnapshot(id: text)
            }
            return newest
        }
        let prefix = text.lowercased()
        if prefix.count >= minimumPrefix, prefix.allSatisfy(\.isHexDigit) {
            let matches = try db.snapshotIDs(startingWith: prefix, limit: 5)
            if matches.count > 1 { throw SnapshotError.ambiguousSnapshot(prefix: text, matches: Array(matches.prefix(4))) }
            if let only = matches.first, let record = try db.snapshot(id: only) { return record }
        }
        let labelled = try db.snapshots(vm: vm).filter { $0.label == text }
        guard let first = labelled.first else { throw SnapshotError.unknownSnapshot(id: text) }
        guard labelled.count == 1 else {
            throw SnapshotError.ambiguousLabel(label: text, matches: labelled.map { "\(shortened($0.id)) (\($0.vm))" })
        }
        return first
    }
}

/// How a command names a snapshot, the same everywhere an id is accepted.
public enum SnapshotReference {
    public static let latest = "latest"
    public static let argumentHelp = "Snapshot: its id, a unique prefix of 4+ digits, 'latest' or its label."
    public static let help = """
        A snapshot is named by its id, a prefix of it that only one id has (4 digits at least), `latest` (the newest \
        snapshot of the VM the command names, else of all) or its label (`amber snapshot take web1 --label \
        before-upgrade`, then `amber rollback web1 --to before-upgrade`); a label several snapshots carry is refused \
        with their ids.
        """
}
