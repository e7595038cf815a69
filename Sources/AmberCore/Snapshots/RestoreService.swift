import AmberCatalog
import AmberControl
import Foundation

/// Brings snapshots back: `rollback` returns a VM to one of its snapshots, `clone` starts new VMs
/// from any snapshot. Both take the snapshot out of the store first (once per snapshot, shared by
/// every VM restored from it) and check it, so a damaged snapshot is refused while the VM still
/// runs untouched. The restored VM continues from the snapshot's instant: no guest boot.
public struct RestoreService {
    public let home: AmberHome

    public init(home: AmberHome) {
        self.home = home
    }

    /// Which snapshot a rollback goes to.
    public enum Target: Sendable {
        case id(String)
        /// The newest snapshot of the VM taken at or before the date; `text` is how the user wrote it.
        case at(Date, text: String)
    }

    public struct RollbackResult: Codable, Sendable {
        public var vm: String
        public var snapshot: SnapshotSummary
        /// The snapshot `--keep-current` took of the state rolled away from.
        public var keptCurrent: SnapshotSummary?
        public var wasRunning: Bool
        public var pid: Int32
    }

    /// Starts the VM again from the snapshot, detached. With `keepCurrent` the current state is
    /// snapshotted first (labelled as the pre-rollback state) so it can be examined or returned to later.
    /// Transactional: the running VM is paused and its files set aside (`VMSetAside`) while the restored
    /// one starts, and discarded only once the restored one runs; if it does not, the VM is put back as
    /// it was (its amber-vmm resumed, its disks' overlays untouched) and the error says why.
    public func rollback(
        vm name: String, to target: Target, keepCurrent: Bool,
        progress: (@Sendable (String, UInt64, UInt64) -> Void)? = nil
    ) throws -> RollbackResult {
        try VMName.validate(name)
        let context = try StoreContext(home: home)
        let record = try resolve(target, vm: name, catalog: context.catalog)
        let manager = VMManager(home: home)
        let wasRunning = (try? manager.running(name)) != nil
        var kept: SnapshotSummary?
        if wasRunning && keepCurrent {
            kept = try SnapshotService(home: home).take(vm: name, label: "pre-rollback (rolled back to \(record.id))")
        }
        let snapshot = try MaterializedSnapshot(record, context: context, recheckState: true, progress: progress)
        let directory = home.vm(name)
        let transaction = try RollbackLock(directory)
        // Read before the VM's files are set aside: the restored VM takes the taps this one does not hold.
        let currentNICs = directory.readConfiguration()?.networkInterfaces ?? []
        let aside = directory.exists ? try VMSetAside(directory, running: wasRunning) : nil
        let pid: Int32
        do {
            pid = try VMLauncher(home: home).runDetached(name: name, replacing: aside != nil) { directory, _ in
                var configuration = try snapshot.configuration(for: directory, detached: true)
                configuration.networkInterfaces = try VMNetworking(home: home).reattach(
                    vm: name, configuration.networkInterfaces, current: currentNICs)
                return configuration
            }
        } catch {
            let problem = aside?.putBack()
            throw SnapshotError.rollbackFailed(vm: name, id: record.id, reason: "\(error)", putBackProblem: problem)
        }
        aside?.discard()
        withExtendedLifetime(transaction) {}
        return RollbackResult(vm: name, snapshot: SnapshotSummary(record), keptCurrent: kept, wasRunning: wasRunning, pid: pid)
    }

    public struct CloneResult: Codable, Sendable {
        public var vm: String
        public var snapshot: SnapshotSummary
        public var pid: Int32
    }

    /// Starts VM `name` from snapshot `id` in the background. The clone's disk is the snapshot's disk
    /// under an overlay of its own: nothing it writes reaches the origin or other clones.
    public func cloneDetached(
        _ id: String, as name: String,
        progress: (@Sendable (String, UInt64, UInt64) -> Void)? = nil
    ) throws -> CloneResult {
        let snapshot = try prepareClone(id, as: name, progress: progress)
        let launcher = VMLauncher(home: home)
        let pid = try launcher.releasingNewNICsOnFailure(of: name) {
            try launcher.runDetached(name: name) { try cloneConfiguration(snapshot, $0, $1) }
        }
        return CloneResult(vm: name, snapshot: SnapshotSummary(snapshot.record), pid: pid)
    }

    /// Runs the clone with its console on this terminal until it stops.
    public func cloneInForeground(
        _ id: String, as name: String,
        progress: (@Sendable (String, UInt64, UInt64) -> Void)? = nil
    ) throws -> ExitStatus {
        let snapshot = try prepareClone(id, as: name, progress: progress)
        let launcher = VMLauncher(home: home)
        return try launcher.releasingNewNICsOnFailure(of: name) {
            try launcher.runInForeground(name: name) { try cloneConfiguration(snapshot, $0, $1) }
        }
    }

    /// The snapshot's configuration for the clone, its NICs in a network namespace of the clone's own.
    private func cloneConfiguration(_ snapshot: MaterializedSnapshot, _ directory: VMDirectory, _ detached: Bool) throws
        -> VMConfiguration
    {
        var configuration = try snapshot.configuration(for: directory, detached: detached)
        configuration.networkInterfaces = try VMNetworking(home: home).isolateClone(
            vm: directory.name, configuration.networkInterfaces)
        return configuration
    }

    private func prepareClone(
        _ id: String, as name: String,
        progress: (@Sendable (String, UInt64, UInt64) -> Void)?
    ) throws -> MaterializedSnapshot {
        try VMName.validate(name)
        guard !home.vm(name).exists else { throw VMLifecycleError.nameTaken(name: name) }
        let context = try StoreContext(home: home)
        let record = try context.catalog.read { try SnapshotIDs.resolve(id, in: $0) }
        return try MaterializedSnapshot(record, context: context, recheckState: false, progress: progress)
    }

    private func resolve(_ target: Target, vm name: String, catalog: Catalog) throws -> SnapshotRecord {
        switch target {
        case .id(let id):
            let record: SnapshotRecord
            do {
                record = try catalog.read { try SnapshotIDs.resolve(id, vm: name, in: $0) }
            } catch SnapshotError.noSnapshots where !home.vm(name).exists {
                throw VMLifecycleError.notFound(name: name)
            }
            guard record.vm == name else { throw SnapshotError.belongsToOtherVM(id: record.id, owner: record.vm, requested: name) }
            return record
        case .at(let date, let text):
            let snapshots = try catalog.read { try $0.snapshots(vm: name) }
            guard !snapshots.isEmpty else {
                guard home.vm(name).exists else { throw VMLifecycleError.notFound(name: name) }
                throw SnapshotError.noSnapshots(vm: name)
            }
            guard let record = snapshots.filter({ $0.created <= date }).max(by: { $0.created < $1.created }) else {
                throw SnapshotError.noneAtOrBefore(vm: name, time: text)
            }
            return record
        }
    }
}
