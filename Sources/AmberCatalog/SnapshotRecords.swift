import Foundation

/// One snapshot of a VM: which manifests hold its memory, disk and machine state, and what it cost.
public struct SnapshotRecord: Equatable, Sendable {
    public var id: String
    public var vm: String
    public var parent: String?
    public var created: Date
    public var label: String?
    /// A `SnapshotKind`'s raw value as the row holds it (rows are read back unchecked).
    public var kind: String
    public var memoryManifest: [UInt8]?
    public var diskManifest: [UInt8]?
    public var stateManifest: [UInt8]?
    public var logicalBytes: Int64
    public var storedBytes: Int64
    public var pauseMicroseconds: Int64
    /// Protected snapshots are never pruned.
    public var protected: Bool
    /// The policy whose schedule took it; nil for a snapshot taken by hand (policies never prune those).
    public var policy: String?

    public init(
        id: String, vm: String, parent: String? = nil, created: Date, label: String? = nil, kind: String,
        memoryManifest: [UInt8]? = nil, diskManifest: [UInt8]? = nil, stateManifest: [UInt8]? = nil,
        logicalBytes: Int64, storedBytes: Int64, pauseMicroseconds: Int64, protected: Bool = false,
        policy: String? = nil
    ) {
        self.id = id
        self.vm = vm
        self.parent = parent
        self.created = created
        self.label = label
        self.kind = kind
        self.memoryManifest = memoryManifest
        self.diskManifest = diskManifest
        self.stateManifest = stateManifest
        self.logicalBytes = logicalBytes
        self.storedBytes = storedBytes
        self.pauseMicroseconds = pauseMicroseconds
        self.protected = protected
        self.policy = policy
    }

    /// Every manifest root this snapshot references.
    public var manifests: [[UInt8]] { [memoryManifest, diskManifest, stateManifest].compactMap { $0 } }
}

extension SQLiteConnection {
    private static let snapshotColumns = """
        id, vm, parent, created, label, kind, memory_manifest, disk_manifest, state_manifest,
        logical_bytes, stored_bytes, pause_microseconds, protected, policy
        """

    public func insertSnapshot(_ snapshot: SnapshotRecord) throws {
        if try self.snapshot(id: snapshot.id) != nil { throw CatalogError.duplicate(what: "snapshot '\(snapshot.id)'") }
        guard try vm(named: snapshot.vm) != nil else { throw CatalogError.notFound(what: "VM '\(snapshot.vm)'") }
        try statement("INSERT INTO snapshots (\(Self.snapshotColumns)) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
            .bind(
                .text(snapshot.id), .text(snapshot.vm), snapshot.parent.map { .text($0) },
                .real(snapshot.created.timeIntervalSince1970), snapshot.label.map { .text($0) }, .text(snapshot.kind),
                snapshot.memoryManifest.map { .blob($0) }, snapshot.diskManifest.map { .blob($0) },
                snapshot.stateManifest.map { .blob($0) }, .integer(snapshot.logicalBytes), .integer(snapshot.storedBytes),
                .integer(snapshot.pauseMicroseconds), .integer(snapshot.protected ? 1 : 0), snapshot.policy.map { .text($0) }
            )
            .run()
        try refreshPlanningSummaries()
    }

    /// Snapshots, oldest first; of one VM when `vm` is given.
    public func snapshots(vm: String? = nil) throws -> [SnapshotRecord] {
        if let vm {
            return try statement("SELECT \(Self.snapshotColumns) FROM snapshots WHERE vm = ? ORDER BY created, id")
                .bind(.text(vm)).rows(Self.snapshotRow)
        }
        return try statement("SELECT \(Self.snapshotColumns) FROM snapshots ORDER BY created, id").rows(Self.snapshotRow)
    }

    public func snapshot(id: String) throws -> SnapshotRecord? {
        try statement("SELECT \(Self.snapshotColumns) FROM snapshots WHERE id = ?").bind(.text(id)).rows(Self.snapshotRow).first
    }

    /// Up to `limit` snapshot ids that start with `prefix`, ascending: a range over the primary key (every
    /// such id sorts between the prefix and the prefix followed by the highest code point).
    public func snapshotIDs(startingWith prefix: String, limit: Int) throws -> [String] {
        try statement("SELECT id FROM snapshots WHERE id >= ? AND id < ? ORDER BY id LIMIT ?")
            .bind(.text(prefix), .text(prefix + "\u{10FFFF}"), .integer(Int64(limit))).rows { $0.text(0) }
    }

    public func setSnapshotProtected(id: String, _ protected: Bool) throws {
        try statement("UPDATE snapshots SET protected = ? WHERE id = ?").bind(.integer(protected ? 1 : 0), .text(id)).run()
        if changes == 0 { throw CatalogError.notFound(what: "snapshot '\(id)'") }
        try refreshPlanningSummaries()
    }

    /// Deletes a snapshot row. Its children keep their data and move up to its parent (trigger
    /// `snapshots_children_move_up`; a child of the first snapshot becomes a root). Refuses protected snapshots.
    public func deleteSnapshot(id: String) throws {
        guard let existing = try snapshot(id: id) else { throw CatalogError.notFound(what: "snapshot '\(id)'") }
        guard !existing.protected else {
            throw CatalogError.sqlite(operation: "delete snapshot '\(id)'", code: 19, message: "it is protected; unprotect it first")
        }
        try statement("DELETE FROM snapshots WHERE id = ?").bind(.text(id)).run()
        try refreshPlanningSummaries()
    }

    private static func snapshotRow(_ row: SQLiteStatement) -> SnapshotRecord {
        SnapshotRecord(
            id: row.text(0), vm: row.text(1), parent: row.optionalText(2), created: Date(timeIntervalSince1970: row.double(3)),
            label: row.optionalText(4), kind: row.text(5), memoryManifest: row.optionalBlob(6),
            diskManifest: row.optionalBlob(7), stateManifest: row.optionalBlob(8), logicalBytes: row.int64(9),
            storedBytes: row.int64(10), pauseMicroseconds: row.int64(11), protected: row.int(12) != 0,
            policy: row.optionalText(13))
    }
}
