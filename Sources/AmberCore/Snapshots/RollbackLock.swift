import AmberSystem
import Foundation

/// `vms/<name>/rollback.lock`, held for a whole rollback: two rollbacks of one VM at once would set
/// each other's files aside.
struct RollbackLock {
    private let lock: FileLock

    init(_ directory: VMDirectory) throws {
        try FileManager.default.createDirectory(at: directory.url, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        do {
            lock = try FileLock(exclusive: directory.url.appendingPathComponent("rollback.lock").path, creating: true)
        } catch FileLock.Failure.alreadyLocked {
            throw VMLifecycleError.refused(name: directory.name, operation: "rollback",
                                           message: "another rollback of it is under way: wait for it to finish")
        }
    }
}
