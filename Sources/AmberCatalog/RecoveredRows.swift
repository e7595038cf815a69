import Foundation

/// Writes rows exactly as the store's records describe them, for `amber store recover`: no checks of
/// protection, no planning-summary refresh per row (the caller refreshes once, at the end), and snapshot
/// parents may name rows inserted later in the same transaction (foreign keys are checked at commit).
extension SQLiteConnection {
    /// Foreign keys are checked when the transaction commits, not per statement: rows go in in any order.
    public func deferForeignKeys() throws {
        try execute("PRAGMA defer_foreign_keys = ON")
    }

    public func putVMRow(_ vm: VMRecord) throws {
        try statement(
            "INSERT INTO vms (name, config, created) VALUES (?, ?, ?) "
                + "ON CONFLICT(name) DO UPDATE SET config = excluded.config, created = excluded.created"
        )
        .bind(.text(vm.name), .text(vm.config), .real(vm.created.timeIntervalSince1970)).run()
    }

    public func putImageRow(_ image: ImageRecord) throws {
        try statement(
            "INSERT INTO images (name, manifest, logical_bytes, stored_bytes, chunk_size, created) VALUES (?, ?, ?, ?, ?, ?) "
                + "ON CONFLICT(name) DO UPDATE SET manifest = excluded.manifest, logical_bytes = excluded.logical_bytes, "
                + "stored_bytes = excluded.stored_bytes, chunk_size = excluded.chunk_size, created = excluded.created"
        )
        .bind(
            .text(image.name), .blob(image.manifest), .integer(image.logicalBytes), .integer(image.storedBytes),
            .int(image.chunkSize), .real(image.created.timeIntervalSince1970)
        )
        .run()
    }

    /// Inserts the snapshot row, or updates every column of the existing one: an update, not a delete and insert,
    /// so the children-move-up trigger does not fire; and not an upsert, whose conflict clause would override the
    /// planning triggers' own (their INSERT OR IGNORE would then fail on a VM already marked stale).
    public func putSnapshotRow(_ snapshot: SnapshotRecord) throws {
        let exists = try statement("SELECT 1 FROM snapshots WHERE id = ?").bind(.text(snapshot.id)).rows { _ in true }.first ?? false
        let values: [SQLiteValue?] = [
            .text(snapshot.vm), snapshot.parent.map { .text($0) }, .real(snapshot.created.timeIntervalSince1970),
            snapshot.label.map { .text($0) }, .text(snapshot.kind), snapshot.memoryManifest.map { .blob($0) },
            snapshot.diskManifest.map { .blob($0) }, snapshot.stateManifest.map { .blob($0) }, .integer(snapshot.logicalBytes),
            .integer(snapshot.storedBytes), .integer(snapshot.pauseMicroseconds), .integer(snapshot.protected ? 1 : 0),
            snapshot.policy.map { .text($0) }, .text(snapshot.id),
        ]
        let sql =
            exists
            ? """
            UPDATE snapshots SET vm = ?, parent = ?, created = ?, label = ?, kind = ?, memory_manifest = ?, disk_manifest = ?,
                state_manifest = ?, logical_bytes = ?, stored_bytes = ?, pause_microseconds = ?, protected = ?, policy = ?
            WHERE id = ?
            """
            : """
            INSERT INTO snapshots (vm, parent, created, label, kind, memory_manifest, disk_manifest, state_manifest,
                                   logical_bytes, stored_bytes, pause_microseconds, protected, policy, id)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """
        try statement(sql).bind(values).run()
    }

    /// Deletes a snapshot row whatever its protection: the store recorded its removal.
    public func removeSnapshotRow(id: String) throws {
        try statement("DELETE FROM snapshots WHERE id = ?").bind(.text(id)).run()
    }

    public func removeImageRow(name: String) throws {
        try statement("DELETE FROM images WHERE name = ?").bind(.text(name)).run()
    }
}
