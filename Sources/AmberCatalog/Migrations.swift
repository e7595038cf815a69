import Foundation

/// The catalog's schema history. Append only: never edit or reorder a migration that has shipped;
/// add a new one. A catalog holding a migration this list lacks came from a newer amber.
enum Migrations {
    static let all: [(name: String, sql: String)] = [
        (
            "0001-store-tables",
            """
            CREATE TABLE packs (
                name TEXT PRIMARY KEY,
                length INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE chunks (
                digest BLOB PRIMARY KEY,
                pack TEXT NOT NULL REFERENCES packs(name),
                offset INTEGER NOT NULL,
                stored_length INTEGER NOT NULL,
                raw_length INTEGER NOT NULL,
                codec INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX chunks_by_pack ON chunks(pack);
            CREATE TABLE images (
                name TEXT PRIMARY KEY,
                manifest BLOB NOT NULL,
                logical_bytes INTEGER NOT NULL,
                stored_bytes INTEGER NOT NULL,
                chunk_size INTEGER NOT NULL,
                created REAL NOT NULL
            );
            CREATE TABLE leases (
                id INTEGER PRIMARY KEY AUTOINCREMENT,
                holder_pid INTEGER NOT NULL,
                purpose TEXT NOT NULL,
                manifest BLOB,
                created REAL NOT NULL
            );
            """
        ),
        (
            "0002-vms-and-snapshots",
            """
            CREATE TABLE vms (
                name TEXT PRIMARY KEY,
                config TEXT NOT NULL,
                created REAL NOT NULL
            );
            CREATE TABLE snapshots (
                id TEXT PRIMARY KEY,
                vm TEXT NOT NULL REFERENCES vms(name),
                parent TEXT REFERENCES snapshots(id) ON DELETE SET NULL,
                created REAL NOT NULL,
                label TEXT,
                kind TEXT NOT NULL,
                memory_manifest BLOB,
                disk_manifest BLOB,
                state_manifest BLOB,
                logical_bytes INTEGER NOT NULL,
                stored_bytes INTEGER NOT NULL,
                pause_microseconds INTEGER NOT NULL,
                protected INTEGER NOT NULL DEFAULT 0
            );
            CREATE INDEX snapshots_by_vm ON snapshots(vm, created);
            """
        ),
        // The policy whose schedule took a snapshot (NULL: taken by hand), and what amberd last did for each
        // schedule, so a restarted daemon catches a missed run up once instead of once per missed slot.
        // Retention planning reads every snapshot grouped by VM in time order; the covering index hands the rows
        // over in that order without visiting the table (walking snapshots_by_vm instead jumps to each row:
        // 3x the CPU for a million snapshots inserted in time order across VMs).
        (
            "0003-snapshot-policy-and-daemon-runs",
            """
            ALTER TABLE snapshots ADD COLUMN policy TEXT;
            CREATE INDEX snapshots_for_planning ON snapshots(vm, created, id, stored_bytes, protected, policy);
            CREATE TABLE daemon_runs (
                job TEXT NOT NULL,
                name TEXT NOT NULL,
                vm TEXT NOT NULL,
                last_run REAL NOT NULL,
                outcome TEXT NOT NULL,
                last_error TEXT,
                last_error_at REAL,
                PRIMARY KEY (job, name, vm)
            ) WITHOUT ROWID;
            """
        ),
        // Planning reads a packed summary per VM instead of a million index rows (see SnapshotPlanningSummary).
        // Triggers mark a VM stale in the same statement as any change to its snapshot rows, whoever makes it (amber,
        // an older tool, the sqlite3 CLI); a stale summary is never read, only rebuilt from the rows. Existing
        // catalogs start with every VM stale: the first write or plan builds their summaries.
        (
            "0004-snapshot-planning-summaries",
            """
            CREATE TABLE snapshot_summaries (
                vm TEXT PRIMARY KEY,
                format INTEGER NOT NULL,
                count INTEGER NOT NULL,
                records BLOB NOT NULL,
                policies BLOB NOT NULL,
                ids BLOB NOT NULL
            );
            CREATE TABLE snapshot_summaries_stale (vm TEXT PRIMARY KEY) WITHOUT ROWID;
            CREATE TRIGGER snapshot_summaries_stale_on_insert AFTER INSERT ON snapshots BEGIN
                INSERT OR IGNORE INTO snapshot_summaries_stale (vm) VALUES (NEW.vm);
            END;
            CREATE TRIGGER snapshot_summaries_stale_on_delete AFTER DELETE ON snapshots BEGIN
                INSERT OR IGNORE INTO snapshot_summaries_stale (vm) VALUES (OLD.vm);
            END;
            CREATE TRIGGER snapshot_summaries_stale_on_update
            AFTER UPDATE OF id, vm, created, stored_bytes, protected, policy ON snapshots BEGIN
                INSERT OR IGNORE INTO snapshot_summaries_stale (vm) VALUES (OLD.vm);
                INSERT OR IGNORE INTO snapshot_summaries_stale (vm) VALUES (NEW.vm);
            END;
            INSERT OR IGNORE INTO snapshot_summaries_stale (vm) SELECT DISTINCT vm FROM snapshots;
            """
        ),
        // A delta chunk is stored as the pages that differ from its base chunk; gc must keep the base
        // alive while the delta is, without reading every record to find out.
        (
            "0005-chunk-delta-base",
            """
            ALTER TABLE chunks ADD COLUMN base BLOB;
            """
        ),
        // Deleting a snapshot finds its children (to give them its parent, and for the foreign key):
        // without this index each delete reads the whole table.
        (
            "0006-snapshot-parent-index",
            """
            CREATE INDEX snapshots_by_parent ON snapshots (parent);
            """
        ),
        // Whatever deletes a snapshot (`snapshot rm`, a prune's batch, plain SQL), its children move up to its
        // parent, so the tree still shows what each snapshot descends from.
        (
            "0007-snapshot-children-move-up",
            """
            CREATE TRIGGER snapshots_children_move_up BEFORE DELETE ON snapshots BEGIN
                UPDATE snapshots SET parent = OLD.parent WHERE parent = OLD.id;
            END;
            """
        ),
    ]

    /// Brings the schema up to date in one transaction; refuses a catalog from a newer amber.
    static func migrate(_ db: SQLiteConnection) throws {
        try db.transaction {
            try db.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied REAL NOT NULL)")
            let applied = Set(try db.statement("SELECT name FROM schema_migrations").rows { $0.text(0) })
            let known = Set(all.map(\.name))
            if let unknown = applied.subtracting(known).sorted().last {
                throw CatalogError.newerSchema(path: db.path, migration: unknown)
            }
            for migration in all where !applied.contains(migration.name) {
                try db.execute(migration.sql)
                try db.statement("INSERT INTO schema_migrations (name, applied) VALUES (?, ?)")
                    .bind(.text(migration.name), .real(Date().timeIntervalSince1970)).run()
            }
        }
    }
}
