import AmberCatalog
import AmberStore
import AmberSystem
import AmberVMM
import Foundation
import Glibc

/// Takes snapshots of running VMs into the store and lists them.
///
/// A snapshot pauses the VM through amber-vmm's control socket, reads its memory straight from the
/// guest memory file (zero chunks cost nothing, chunks an earlier snapshot or image holds are not
/// stored again) and its disk, then lets the VM run again before the one catalog transaction that
/// records it. Until that transaction nothing refers to the new chunks: a snapshot that fails or
/// is killed leaves no row, and amber-vmm resumes the VM when the control connection drops.
public struct SnapshotService {
    public let home: AmberHome

    public init(home: AmberHome) {
        self.home = home
    }

    public static let fullKind = "full"

    /// `policy` names the policy whose schedule takes it (nil: by hand); only that policy ever prunes it.
    public func take(vm name: String, label: String? = nil, policy: String? = nil) throws -> SnapshotSummary {
        let directory = try VMManager(home: home).running(name)
        guard let configuration = directory.readConfiguration(),
              let configJSON = try? String(decoding: JSONEncoder().encode(configuration), as: UTF8.self) else {
            throw SnapshotError.noConfiguration(vm: name)
        }
        // The disk is copied whole while the VM is paused; the copy-on-write layer's dirty chunks
        // replace this with an incremental capture later. One disk until the catalog holds more.
        guard configuration.disks.count <= 1 else {
            throw SnapshotError.tooManyDisks(vm: name, count: configuration.disks.count)
        }
        let context = try StoreContext(home: home)
        let writer = try context.writer()
        let created = Date()
        let captured: CapturedSnapshot
        do {
            captured = try capture(ControlClient(directory), diskPath: configuration.disks.first?.path, into: writer)
        } catch {
            writer.finish(committed: false)
            throw error
        }
        let record = try context.commit(writer) { db -> SnapshotRecord in
            if try db.vm(named: name) == nil {
                try db.insertVM(VMRecord(name: name, config: configJSON, created: created))
            }
            let record = SnapshotRecord(id: Self.newID(), vm: name, parent: try db.snapshots(vm: name).last?.id,
                                        created: created, label: label, kind: Self.fullKind,
                                        memoryManifest: captured.memory.manifest.bytes,
                                        diskManifest: captured.disk?.manifest.bytes,
                                        stateManifest: captured.state.manifest.bytes,
                                        logicalBytes: Int64(captured.logicalBytes), storedBytes: Int64(captured.storedBytes),
                                        pauseMicroseconds: captured.pauseMicroseconds, policy: policy)
            try db.insertSnapshot(record)
            return record
        }
        return SnapshotSummary(record)
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
    public func remove(id: String) throws {
        guard let catalog = try catalogIfPresent() else { throw SnapshotError.unknownSnapshot(id: id) }
        try catalog.write { db in
            guard let snapshot = try db.snapshot(id: id) else { throw SnapshotError.unknownSnapshot(id: id) }
            guard !snapshot.protected else { throw SnapshotError.protected(id: id) }
            try db.deleteSnapshot(id: id)
        }
    }

    /// Protected snapshots are never pruned nor removed until unprotected.
    public func setProtected(id: String, _ protected: Bool) throws {
        guard let catalog = try catalogIfPresent() else { throw SnapshotError.unknownSnapshot(id: id) }
        do {
            try catalog.write { try $0.setSnapshotProtected(id: id, protected) }
        } catch CatalogError.notFound {
            throw SnapshotError.unknownSnapshot(id: id)
        }
    }

    /// Listing must not create a home that does not exist.
    private func catalogIfPresent() throws -> Catalog? {
        guard FileManager.default.fileExists(atPath: home.catalogFile.path) else { return nil }
        return try Catalog(path: home.catalogFile.path)
    }

    private struct CapturedSnapshot {
        var memory: IngestResult
        var disk: IngestResult?
        var state: IngestResult
        var pauseMicroseconds: Int64

        var logicalBytes: UInt64 { memory.logicalBytes + (disk?.logicalBytes ?? 0) + state.logicalBytes }
        var storedBytes: UInt64 { memory.newStoredBytes + (disk?.newStoredBytes ?? 0) + state.newStoredBytes }
    }

    /// Holds the VM paused only while memory and disk are read; the machine state is stored after
    /// the VM runs again.
    private func capture(_ client: ControlClient, diskPath: String?, into writer: StoreWriter) throws -> CapturedSnapshot {
        let (hold, capture) = try client.beginSnapshot()
        let memory = try ingestMemory(capture, vm: client.name, into: writer)
        // Paused devices have no request in flight: the file holds exactly the disk the memory knows.
        let disk = try diskPath.map { try writer.ingest(file: $0) }
        let pause = try client.endSnapshot(hold)
        let state = try capture.machineState.withUnsafeBytes { try writer.ingest(buffer: $0) }
        return CapturedSnapshot(memory: memory, disk: disk, state: state, pauseMicroseconds: pause)
    }

    private func ingestMemory(_ capture: SnapshotCapture, vm: String, into writer: StoreWriter) throws -> IngestResult {
        let mapping: MappedRegion
        do {
            let file = try FileDescriptor.open(capture.memoryPath, O_RDONLY)
            mapping = try MappedRegion(size: Int(capture.memoryBytes), fd: file, protection: PROT_READ, flags: MAP_SHARED)
        } catch let error as SystemError {
            throw SnapshotError.memoryUnreadable(vm: vm, reason: error.description)
        }
        return try writer.ingest(buffer: UnsafeRawBufferPointer(start: mapping.base, count: mapping.size))
    }

    private static func newID() -> String {
        String(UInt64.random(in: 0...UInt64(UInt32.max)), radix: 16).leftPadded(to: 8)
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
