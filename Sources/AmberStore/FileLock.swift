import AmberSystem
import Glibc

/// An advisory flock(2) on a file, released when this object goes away. The kernel drops it when the
/// process dies, so a writer killed with SIGKILL never leaves a lock behind.
public final class FileLock: @unchecked Sendable {
    public enum Mode { case shared, exclusive }

    let file: FileDescriptor

    /// Blocks until the lock is granted, calling `waiting` first if it is not granted at once.
    public init(path: String, mode: Mode, waiting: (() -> Void)? = nil) throws {
        file = try FileDescriptor.open(path, O_RDWR | O_CREAT, mode: 0o644)
        let operation = mode == .shared ? LOCK_SH : LOCK_EX
        if flock(file.rawValue, operation | LOCK_NB) == 0 { return }
        waiting?()
        try retryingInterrupts("flock \(path)") { flock(file.rawValue, operation) }
    }

    /// Locks `file` exclusively without waiting; nil when someone else holds it.
    init?(tryingExclusive file: FileDescriptor) {
        guard flock(file.rawValue, LOCK_EX | LOCK_NB) == 0 else { return nil }
        self.file = file
    }
}
