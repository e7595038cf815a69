import AmberCatalog
import AmberStore
import Dispatch
import Foundation

/// What `amber store recover` found in the store and did to the catalog (with --dry-run: would do).
public struct RecoveryReport: Sendable, Codable {
    public struct RecordCounts: Sendable, Codable, Equatable {
        public var vms = 0
        public var images = 0
        public var snapshots = 0
        /// Tombstones: images and snapshots the store records as removed.
        public var removed = 0
    }

    public var dryRun: Bool
    /// The chunk index rebuilt from the packs (what `rebuild-index` alone used to do).
    public var index: IndexRebuildReport
    public var records = RecordCounts()
    /// Catalog rows added, changed to match their record, and deleted because the store records their removal:
    /// "VM web", "image base", "snapshot 0123456789abcdef".
    public var added: [String] = []
    public var updated: [String] = []
    public var removed: [String] = []
    /// Rows that had no record (written by an amber that kept none): given one now.
    public var recordsWritten: [String] = []
    /// Damaged records rewritten from the catalog row of their object.
    public var recordsRepaired: [String] = []
    /// Damaged records with no row to rewrite them from: skipped, each with why.
    public var damagedRecords: [DamagedRecord] = []
    /// VMs whose record is missing or damaged while snapshots of theirs are recorded: given a row with an empty
    /// configuration so their snapshots are listed (rollback and clone of them need the VM's configuration).
    public var vmsWithoutConfiguration: [String] = []
    /// Where the time went: scanning the packs, reading the records, changing the catalog (one transaction).
    public var seconds = Timings()

    public struct Timings: Sendable, Codable, Equatable {
        public var packs = 0.0
        public var records = 0.0
        public var catalog = 0.0
    }

    public var changedCatalog: Bool { !(added.isEmpty && updated.isEmpty && removed.isEmpty) }
}

extension StoreContext {
    /// Rebuilds the catalog from the store alone: the chunk index from the packs, then VMs, images and snapshots
    /// (parents, labels, protection, owning policy) from the records. A record wins over the row of its object;
    /// a tombstone deletes the row; a row with no record at all is kept and given one. Safe to re-run: a second
    /// run finds nothing to change. Holds the store lease exclusively (no writer, no gc meanwhile) and changes
    /// the catalog in one transaction.
    public func recover(dryRun: Bool, progress: ProgressReport? = nil) throws -> RecoveryReport {
        let lease = try store.lease(.exclusive)
        defer { withExtendedLifetime(lease) {} }
        var clock = DispatchTime.now().uptimeNanoseconds
        func lap() -> Double {
            let now = DispatchTime.now().uptimeNanoseconds
            defer { clock = now }
            return Double(now - clock) / 1e9
        }
        let scanned = try scanPacksForIndex(progress: progress)
        let packSeconds = lap()
        try CrashedRecordChanges.resolve(records: store.records, catalog: catalog)
        let directory = store.records
        let records = try StoreRecordSet(directory: directory)
        let recordSeconds = lap()
        let apply = { (db: SQLiteConnection) throws -> RecoveryReport in
            let recovery = try CatalogRecovery(records: records, db: db, dryRun: dryRun)
            var report = RecoveryReport(dryRun: dryRun, index: scanned.report)
            report.seconds = RecoveryReport.Timings(packs: packSeconds, records: recordSeconds)
            if !dryRun {
                try db.deferForeignKeys()
                try db.replaceChunkIndex(chunks: scanned.chunks, packs: scanned.packs)
            }
            try recovery.apply(to: &report)
            let lacking = try RecordMigration.recordRowsLackingRecords(db, directory: directory, dryRun: dryRun)
            report.recordsWritten = lacking.written
            try recovery.repairDamaged(directory: directory, report: &report)
            if !dryRun {
                try db.refreshPlanningSummaries()
                try directory.markComplete()
            }
            return report
        }
        var report = dryRun ? try catalog.read(apply) : try catalog.write(apply)
        report.seconds.catalog = lap()
        return report
    }
}

/// The catalog changes that make it agree with the store's records, worked out from both read once.
private struct CatalogRecovery {
    let records: StoreRecordSet
    let db: SQLiteConnection
    let dryRun: Bool
    let vmRows: [String: VMRecord]
    let imageRows: [String: ImageRecord]
    let snapshotRows: [String: SnapshotRecord]

    init(records: StoreRecordSet, db: SQLiteConnection, dryRun: Bool) throws {
        self.records = records
        self.db = db
        self.dryRun = dryRun
        vmRows = Dictionary(try db.vms().map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        imageRows = Dictionary(try db.images().map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        snapshotRows = Dictionary(try db.snapshots().map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    func apply(to report: inout RecoveryReport) throws {
        var vms = Set(vmRows.keys)
        for record in records.vms where !record.isRemoved {
            let row = record.description.row
            report.records.vms += 1
            vms.insert(row.name)
            if let existing = vmRows[row.name] {
                guard existing != row else { continue }
                report.updated.append("VM \(row.name)")
            } else {
                report.added.append("VM \(row.name)")
            }
            if !dryRun { try db.putVMRow(row) }
        }
        for record in records.images {
            let row = record.description.row
            if record.isRemoved {
                report.records.removed += 1
                guard imageRows[row.name] != nil else { continue }
                report.removed.append("image \(row.name)")
                if !dryRun { try db.removeImageRow(name: row.name) }
                continue
            }
            report.records.images += 1
            if let existing = imageRows[row.name] {
                guard existing != row else { continue }
                report.updated.append("image \(row.name)")
            } else {
                report.added.append("image \(row.name)")
            }
            if !dryRun { try db.putImageRow(row) }
        }
        try applySnapshots(vms: &vms, report: &report)
    }

    private func applySnapshots(vms: inout Set<String>, report: inout RecoveryReport) throws {
        var live: [String: SnapshotDescription] = [:]
        var tombstones: [String: String?] = [:]
        for record in records.snapshots {
            if record.isRemoved {
                tombstones[record.description.id] = record.description.parent
            } else {
                live[record.description.id] = record.description
            }
        }
        report.records.snapshots = live.count
        report.records.removed += tombstones.count
        // A removed snapshot's children descend from its parent (as the catalog's trigger moves them up): follow
        // tombstones up to a snapshot that exists, a record's or a row's the store has no record of.
        func resolve(_ parent: String?) -> String? {
            var candidate = parent
            for _ in 0...tombstones.count {
                guard let id = candidate else { return nil }
                if live[id] != nil { return id }
                if let above = tombstones[id] { candidate = above; continue }
                return snapshotRows[id] != nil ? id : nil
            }
            return nil
        }
        for id in tombstones.keys.sorted() where snapshotRows[id] != nil {
            report.removed.append("snapshot \(id)")
            if !dryRun { try db.removeSnapshotRow(id: id) }
        }
        for description in live.values.sorted(by: { ($0.created, $0.id) < ($1.created, $1.id) }) {
            var row = description.row
            row.parent = resolve(description.parent).flatMap { $0 == row.id ? nil : $0 }
            if !vms.contains(row.vm) {
                vms.insert(row.vm)
                report.vmsWithoutConfiguration.append(row.vm)
                if !dryRun { try db.putVMRow(VMRecord(name: row.vm, config: "{}", created: row.created)) }
            }
            if let existing = snapshotRows[row.id] {
                guard existing != row else { continue }
                report.updated.append("snapshot \(row.id)")
            } else {
                report.added.append("snapshot \(row.id)")
            }
            if !dryRun { try db.putSnapshotRow(row) }
        }
    }

    /// Rewrites each damaged record from its object's row when the catalog has one; the rest are reported.
    func repairDamaged(directory: RecordDirectory, report: inout RecoveryReport) throws {
        for damaged in records.damaged {
            let repaired: Bool
            switch damaged.type {
            case RecordType.vm.rawValue:
                repaired = try repair(directory, vmRows[damaged.key].flatMap(VMDescription.init(row:)))
            case RecordType.image.rawValue:
                repaired = try repair(directory, imageRows[damaged.key].flatMap(ImageDescription.init(row:)))
            default:
                repaired = try repair(directory, snapshotRows[damaged.key].flatMap(SnapshotDescription.init(row:)))
            }
            if repaired { report.recordsRepaired.append(damaged.path) } else { report.damagedRecords.append(damaged) }
        }
    }

    private func repair<D: RecordDescription>(_ directory: RecordDirectory, _ description: D?) throws -> Bool {
        guard let description else { return false }
        if !dryRun { try directory.save(StoredRecord(description: description)) }
        return true
    }
}
