import AmberCatalog
import AmberControl
import AmberModel
import AmberStore
import AmberSystem
import Foundation
import Glibc

/// Takes snapshots of running VMs into the store and lists them.
///
/// A snapshot pauses the VM through amber-vmm's control socket, reads the disk's changed chunks, lets
/// the VM run again and reads its memory as it was at the pause from a process amber-vmm forked to
/// hold it (zero chunks cost nothing, chunks an earlier snapshot or image holds are not stored
/// again), then records it in one catalog transaction. Until that transaction nothing refers to the
/// new chunks: a snapshot that fails or is killed leaves no row, and amber-vmm resumes the VM and
/// lets go of the held memory when the control connection drops.
public struct SnapshotService {
    public let home: AmberHome

    public init(home: AmberHome) {
        self.home = home
    }

    /// `policy` names the policy whose schedule takes it (nil: by hand); only that policy ever prunes it.
    /// Without `memory` only the disk is captured (kind `disk`).
    public func take(vm name: String, label: String? = nil, policy: String? = nil, memory: Bool = true) throws -> SnapshotSummary {
        let directory = try VMManager(home: home).running(name)
        guard let configuration = directory.readConfiguration(),
            let configJSON = try? String(decoding: JSONEncoder().encode(configuration), as: UTF8.self)
        else {
            throw SnapshotError.noConfiguration(vm: name)
        }
        // The catalog row holds one disk manifest.
        guard configuration.disks.count <= 1 else {
            throw SnapshotError.tooManyDisks(vm: name, count: configuration.disks.count)
        }
        let context = try StoreContext(home: home)
        let client = ControlClient(directory)
        let created = Date()
        var hold: SnapshotHold?
        // Closing the hold without committing tells amber-vmm the snapshot was not recorded.
        defer { hold?.close() }
        let record = try record(
            in: context, vm: name, configJSON: configJSON, created: created, label: label,
            kind: memory ? .full : .disk, policy: policy
        ) { writer in
            let captured = try capture(client, ingest: CaptureIngest(context: context, writer: writer, vm: name), memory: memory) {
                try UntrustedCapture.check($0, configuration: configuration, vmmPID: directory.vmmPID, vm: name)
            }
            hold = captured.hold
            return SnapshotContent(
                parentHint: captured.parent, memory: captured.memory?.manifest, disk: captured.disk?.root,
                state: captured.state?.manifest, logicalBytes: captured.logicalBytes,
                pauseMicroseconds: captured.hold.pauseMicroseconds)
        }
        // The snapshot exists now; if amber-vmm misses this, its next snapshot just reads more.
        try? hold?.commit(as: record.id)
        return SnapshotSummary(record)
    }

    /// What `record`'s body stored of a snapshot.
    struct SnapshotContent {
        var parentHint: String?
        var memory: ChunkDigest?
        var disk: ChunkDigest?
        var state: ChunkDigest?
        var logicalBytes: UInt64
        var pauseMicroseconds: Int64
    }

    /// Stores a snapshot's chunks (`body`), then records it: its record in the store, then its row (and its VM's,
    /// the first time) in one catalog transaction with the writer's chunks.
    func record(
        in context: StoreContext, vm name: String, configJSON: String, created: Date, label: String?, kind: SnapshotKind,
        policy: String?, storing body: (StoreWriter) throws -> SnapshotContent
    ) throws -> SnapshotRecord {
        let records = RecordKeeper(directory: context.store.records)
        return try records.undoingOnFailure {
            try context.write { writer in
                (content: try body(writer), storedBytes: writer.storedBytes)
            } commit: { db, stored -> SnapshotRecord in
                let content = stored.content
                if try db.vm(named: name) == nil {
                    let vm = VMRecord(name: name, config: configJSON, created: created)
                    try records.recordVM(vm)
                    try db.insertVM(vm)
                }
                // After a rollback the VM descends from the snapshot it went back to, not the newest one.
                let parent = try content.parentHint.flatMap { try db.snapshot(id: $0)?.id } ?? db.snapshots(vm: name).last?.id
                let record = SnapshotRecord(
                    id: SnapshotIDs.newID(), vm: name, parent: parent, created: created, label: label,
                    kind: kind.rawValue, memoryManifest: content.memory?.bytes, diskManifest: content.disk?.bytes,
                    stateManifest: content.state?.bytes, logicalBytes: Int64(content.logicalBytes),
                    storedBytes: Int64(stored.storedBytes), pauseMicroseconds: content.pauseMicroseconds,
                    policy: policy)
                try records.recordSnapshot(record)
                try db.insertSnapshot(record)
                return record
            }
        }
    }

    /// Snapshots oldest first; of one VM when `vm` is given (a VM Amber never heard of is an error).
    public func list(vm: String? = nil) throws -> [SnapshotSummary] {
        if let vm {
            try VMName.validate(vm)
            let known = try catalogIfPresent()?.read { try $0.vm(named: vm) } != nil
            guard home.vm(vm).exists || known else {
                throw VMLifecycleError.notFound(name: vm)
            }
        }
        guard let catalog = try catalogIfPresent() else { return [] }
        return try catalog.read { try $0.snapshots(vm: vm) }.map(SnapshotSummary.init)
    }

    /// Forgets a snapshot; its chunks stay until `amber store gc` finds nothing else uses them. Its
    /// children keep their data and become roots of the tree. Protected snapshots are refused.
    /// `id` may be a unique prefix; returns the whole id removed.
    @discardableResult
    public func remove(id: String) throws -> String {
        guard let catalog = try catalogIfPresent() else { throw SnapshotError.unknownSnapshot(id: id) }
        let records = try RecordKeeper(home: home)
        CrashedRecordChanges.resolveReportingFailure(records: records.directory, catalog: catalog)
        let removed = try records.undoingOnFailure {
            try catalog.write { db in
                let snapshot = try SnapshotIDs.resolve(id, in: db)
                guard !snapshot.protected else { throw SnapshotError.protected(id: snapshot.id) }
                try records.recordSnapshotRemovals([snapshot])
                try db.deleteSnapshot(id: snapshot.id)
                return snapshot.id
            }
        }
        try SnapshotCache(home: home).removeUnused(catalog: catalog)
        return removed
    }

    /// Deletes the materialized copies of snapshots that are gone and that no VM was restored from
    /// (`snapshot rm` does this at once; pruning and crashes can leave some); returns the bytes freed.
    public func removeUnusedCache() throws -> UInt64 {
        guard let catalog = try catalogIfPresent() else { return 0 }
        return try SnapshotCache(home: home).removeUnused(catalog: catalog)
    }

    /// Protected snapshots are never pruned nor removed until unprotected.
    /// `id` may be a unique prefix; returns the whole id.
    @discardableResult
    public func setProtected(id: String, _ protected: Bool) throws -> String {
        guard let catalog = try catalogIfPresent() else { throw SnapshotError.unknownSnapshot(id: id) }
        let records = try RecordKeeper(home: home)
        CrashedRecordChanges.resolveReportingFailure(records: records.directory, catalog: catalog)
        return try records.undoingOnFailure {
            try catalog.write { db in
                var snapshot = try SnapshotIDs.resolve(id, in: db)
                snapshot.protected = protected
                try records.recordSnapshot(snapshot)
                try db.setSnapshotProtected(id: snapshot.id, protected)
                return snapshot.id
            }
        }
    }

    /// Listing must not create a home that does not exist.
    private func catalogIfPresent() throws -> Catalog? {
        guard FileManager.default.fileExists(atPath: home.catalogFile.path) else { return nil }
        return try Catalog(path: home.catalogFile.path)
    }

    private struct CapturedSnapshot {
        var hold: SnapshotHold
        var memory: IngestResult?
        var disk: (root: ChunkDigest, logicalBytes: UInt64)?
        var state: IngestResult?
        var parent: String? { hold.capture.parent }

        var logicalBytes: UInt64 { (memory?.logicalBytes ?? 0) + (disk?.logicalBytes ?? 0) + (state?.logicalBytes ?? 0) }
    }

    /// Holds the VM paused only while the disk's changed chunks are read: its memory is read from the
    /// copy amber-vmm holds of it while the guest runs on, the disk's unchanging base (a first snapshot's)
    /// after that, and the machine state last.
    /// The returned hold stays open until the snapshot is recorded.
    private func capture(
        _ client: ControlClient, ingest: CaptureIngest, memory includeMemory: Bool,
        check: (SnapshotCapture) throws -> Void
    ) throws -> CapturedSnapshot {
        let hold = try client.beginSnapshot(memory: includeMemory)
        let capture = hold.capture
        do {
            try check(capture)
            guard (capture.memory != nil) == includeMemory else {
                throw SnapshotError.untrustedCapture(
                    vm: ingest.vm, detail: includeMemory ? "no held memory for a memory snapshot" : "held memory for a disk-only snapshot")
            }
            // Paused devices have no request in flight and amber-vmm flushed the disks.
            let pendingDisk = try capture.disks.first.map { try ingest.diskWhilePaused($0) }
            try hold.release()
            let memory = try capture.memory.map { try ingest.memory($0, of: capture) }
            try hold.end()
            let disk = try pendingDisk?.finish()
            let state = includeMemory ? try capture.machineState.withUnsafeBytes { try ingest.writer.ingest(buffer: $0) } : nil
            return CapturedSnapshot(hold: hold, memory: memory, disk: disk, state: state)
        } catch {
            hold.close()
            throw error
        }
    }

}
