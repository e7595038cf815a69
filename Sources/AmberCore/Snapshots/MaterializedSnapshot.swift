import AmberCatalog
import AmberModel
import AmberStore
import AmberSystem
import AmberControl
import AmberMachineState
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

    /// Takes snapshot `record` out of the store (or finds it already out, complete and intact: see
    /// `SnapshotCacheMarker`) and checks it. A state found already out was checked when it was taken out;
    /// `recheckState` decodes and checks all of it again (a rollback does), otherwise only its header and
    /// shape are read (a clone's path: amber-vmm checks the rest before its VM exists).
    init(
        _ record: SnapshotRecord, context: StoreContext, recheckState: Bool,
        progress: (@Sendable (String, UInt64, UInt64) -> Void)? = nil
    ) throws {
        self.record = record
        let id = record.id
        guard let vmRow = try context.catalog.read({ try $0.vm(named: record.vm) }),
            let configuration = try? JSONDecoder().decode(VMConfiguration.self, from: Data(vmRow.config.utf8))
        else {
            throw SnapshotError.unusable(id: id, reason: "the catalog holds no configuration for its VM \(record.vm)")
        }
        self.configuration = configuration
        guard let memory = record.memoryManifest.flatMap(ChunkDigest.init(bytes:)),
            let stateRoot = record.stateManifest.flatMap(ChunkDigest.init(bytes:))
        else {
            throw SnapshotError.unusable(id: id, reason: "it has no memory or machine state (a disk-only snapshot)")
        }
        let directory = Self.directory(context.home, id: id)
        do {
            try FileManager.default.createDirectory(
                at: directory, withIntermediateDirectories: true,
                attributes: [.posixPermissions: 0o700])
        } catch {
            throw SnapshotError.unusable(id: id, reason: "cannot create \(directory.path): \(error.localizedDescription)")
        }
        // Two restores of one snapshot at once take it out once.
        let lock = try FileLock(path: directory.appendingPathComponent("lock").path, mode: .exclusive)
        defer { withExtendedLifetime(lock) {} }
        let diskRoot = record.diskManifest.flatMap(ChunkDigest.init(bytes:))
        let names = ["state", "memory"] + (diskRoot == nil ? [] : ["disk0"])
        statePath = directory.appendingPathComponent("state").path
        memoryPath = directory.appendingPathComponent("memory").path
        diskPath = diskRoot == nil ? nil : directory.appendingPathComponent("disk0").path
        let marker = SnapshotCacheMarker.read(in: directory)
        let complete = marker.map { $0.files.map(\.name) == names && $0.problem(in: directory) == nil } ?? false
        if !complete {
            try Self.takeOut(
                id: id, [stateRoot, memory] + (diskRoot.map { [$0] } ?? []), as: names,
                into: directory, context: context, progress: progress)
        }
        do {
            shape =
                !complete || recheckState
                ? MachineShape(try MachineState(contentsOf: statePath))
                : try MachineShape(contentsOf: statePath)
        } catch {
            unlink(directory.appendingPathComponent(SnapshotCacheMarker.fileName).path)
            unlink(statePath)
            throw SnapshotError.unusable(id: id, reason: "its machine state is not usable: \(error); restore from another snapshot")
        }
    }

    /// Takes the snapshot's files out of the store afresh (whatever an earlier, unfinished or damaged,
    /// take-out left goes first), each durably, then the completion marker. The shared store lease keeps
    /// gc from freeing chunks while they are read.
    private static func takeOut(
        id: String, _ roots: [ChunkDigest], as names: [String], into directory: URL,
        context: StoreContext, progress: (@Sendable (String, UInt64, UInt64) -> Void)?
    ) throws {
        unlink(directory.appendingPathComponent(SnapshotCacheMarker.fileName).path)
        for name in names { unlink(directory.appendingPathComponent(name).path) }
        let lease = try context.store.lease(.shared)
        defer { withExtendedLifetime(lease) {} }
        var files: [SnapshotCacheMarker.File] = []
        for (root, name) in zip(roots, names) {
            do {
                let manifest = try context.reader.materialize(
                    root, toPath: directory.appendingPathComponent(name).path,
                    mode: 0o600, durable: true
                ) { done, total in progress?(name, done, total) }
                files.append(SnapshotCacheMarker.file(name, manifest: manifest))
            } catch {
                throw SnapshotError.unusable(id: id, reason: "its \(name) cannot be read from the store: \(error)")
            }
        }
        do {
            try SnapshotCacheMarker(files: files).write(in: directory)
        } catch {
            throw SnapshotError.unusable(id: id, reason: "its cache entry \(directory.path) cannot be completed: \(error)")
        }
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
            result.disks = [
                DiskConfiguration(
                    path: diskPath, readOnly: original.readOnly,
                    overlayPath: original.readOnly ? nil : overlay)
            ]
        } else {
            result.disks = []
        }
        return result
    }
}
