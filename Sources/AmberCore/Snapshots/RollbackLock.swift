import AmberControl
import AmberSystem
import Foundation

/// `vms/<name>/rollback.lock`, held for a whole rollback: two rollbacks of one VM at once would set
/// each other's files aside.
struct RollbackLock {
    private let lock: FileLock

    init(_ directory: VMDirectory) throws {
        try FileManager.default.createDirectory(
            at: directory.url, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        do {
            lock = try FileLock(exclusive: Self.path(directory), creating: true)
        } catch FileLock.Failure.alreadyLocked {
            throw VMLifecycleError.refused(
                name: directory.name, operation: "rollback",
                refusal: ControlRefusal(
                    .rollbackInProgress, "another rollback of it is under way: wait for it to finish"))
        }
        InterruptedRollback.finish(directory)
    }

    private static func path(_ directory: VMDirectory) -> String {
        directory.url.appendingPathComponent("rollback.lock").path
    }

    /// Finishes a rollback killed mid-way (see `InterruptedRollback`) unless one is under way now. Cheap
    /// when there is nothing to finish: no lock is taken unless set-aside files exist.
    static func finishInterrupted(_ directory: VMDirectory) {
        guard
            access(directory.configFile.path + VMSetAside.suffix, F_OK) == 0
                || access(directory.controlSocket.path + VMSetAside.suffix, F_OK) == 0,
            let lock = try? FileLock(exclusive: path(directory), creating: false)
        else { return }
        InterruptedRollback.finish(directory)
        withExtendedLifetime(lock) {}
    }
}
