import AmberCatalog
import AmberStore
import AmberSystem
import AmberVMM
import Foundation
import Glibc

/// A snapshot taken out of the store, ready for amber-vmm to continue from: its machine state, its
/// memory and its disk as plain files in `<home>/cache/snapshots/<id>/`. Taken out once and shared
/// by every VM restored from it (they map the memory copy-on-write and put an overlay over the
/// disk), so these files are never written again; each appears complete under its final name or
/// not at all. Every chunk is checked against its digest on the way out, and the state is decoded
/// and validated, so a damaged snapshot fails here, before anything about a VM changes.
struct MaterializedSnapshot {
    let record: SnapshotRecord
    /// The machine's memory layout and vCPU count, from its state.
    let shape: MachineShape
    let statePath: String
    let memoryPath: String
    let diskPath: String?
    /// The VM's configuration when the snapshot was taken.
    let configuration: VMConfiguration

    static func directory(_ home: AmberHome, id: String) -> URL {
        home.cacheDirectory.appendingPathComponent("snapshots").appendingPathComponent(id)
    }

    /// Takes snapshot `record` out of the store (or finds it already out) and checks it. A state found
    /// already out was checked when it was taken out; `recheckState` decodes and checks all of it again
    /// (a rollback does, as it stops the running VM before amber-vmm reads the state), otherwise only its
    /// header and shape are read (a clone's path: amber-vmm checks the rest before its VM exists).
    init(_ record: SnapshotRecord, context: StoreContext, recheckState: Bool,
         progress: ((String, UInt64, UInt64) -> Void)? = nil) throws {
        self.record = record
        let id = record.id
        guard let vmRow = try context.catalog.read({ try $0.vm(named: record.vm) }),
              let configuration = try? JSONDecoder().decode(VMConfiguration.self, from: Data(vmRow.config.utf8)) else {
            throw SnapshotError.unusable(id: id, reason: "the catalog holds no configuration for its VM \(record.vm)")
        }
        self.configuration = configuration
        guard let memory = record.memoryManifest.flatMap(ChunkDigest.init(bytes:)),
              let stateRoot = record.stateManifest.flatMap(ChunkDigest.init(bytes:)) else {
            throw SnapshotError.unusable(id: id, reason: "it has no memory or machine state (a disk-only snapshot)")
        }
        let directory = Self.directory(context.home, id: id)
        do {
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
        } catch {
            throw SnapshotError.unusable(id: id, reason: "cannot create \(directory.path): \(error.localizedDescription)")
        }
        // Two restores of one snapshot at once take it out once.
        let lock = try FileLock(path: directory.appendingPathComponent("lock").path, mode: .exclusive)
        defer { withExtendedLifetime(lock) {} }
        let reader = context.reader
        func takeOut(_ root: ChunkDigest, _ name: String) throws -> (path: String, new: Bool) {
            let path = directory.appendingPathComponent(name).path
            guard access(path, F_OK) != 0 else { return (path, false) }
            do {
                try reader.materialize(root, toPath: path, mode: 0o600) { done, total in progress?(name, done, total) }
            } catch {
                throw SnapshotError.unusable(id: id, reason: "its \(name) cannot be read from the store: \(error)")
            }
            return (path, true)
        }
        let state = try takeOut(stateRoot, "state")
        statePath = state.path
        do {
            shape = state.new || recheckState ? MachineShape(try MachineState(contentsOf: statePath))
                                              : try MachineShape(contentsOf: statePath)
        } catch {
            unlink(statePath)
            throw SnapshotError.unusable(id: id, reason: "its machine state is not usable: \(error)")
        }
        memoryPath = try takeOut(memory, "memory").path
        diskPath = try record.diskManifest.flatMap(ChunkDigest.init(bytes:)).map { try takeOut($0, "disk0").path }
    }

    /// The configuration amber-vmm gets to continue from this snapshot as VM `name` in `directory`:
    /// the snapshot's memory size and vCPUs, its disk under an overlay of the VM's own (which
    /// `VMLauncher` empties once it holds the VM's run lock).
    func configuration(for directory: VMDirectory, detached: Bool) throws -> VMConfiguration {
        var result = configuration
        result.name = directory.name
        // The state knows the machine's shape, whatever the VM's configuration says today.
        result.memoryBytes = shape.memory.totalBytes
        result.vcpus = shape.vcpuCount
        result.controlSocketPath = directory.controlSocket.path
        result.consoleLogPath = detached ? directory.consoleLog.path : nil
        result.restore = RestoreSource(snapshotID: record.id, statePath: statePath, memoryPath: memoryPath)
        if let diskPath, let original = configuration.disks.first {
            let overlay = directory.overlay(forDisk: 0).path
            result.disks = [DiskConfiguration(path: diskPath, readOnly: original.readOnly,
                                              overlayPath: original.readOnly ? nil : overlay)]
        } else {
            result.disks = []
        }
        return result
    }
}
