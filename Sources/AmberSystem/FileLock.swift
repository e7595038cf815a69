import Glibc

/// An advisory flock(2) on a file, released when this object goes away. The kernel drops it when the
/// holder dies, so a process killed with SIGKILL never leaves a lock behind, and a held lock means a
/// live owner. One type serves the store's leases, amber-vmm's "one process per VM" lock and the CLI.
public final class FileLock: Sendable {
    public enum Mode: Sendable { case shared, exclusive }

    public enum Failure: Error, CustomStringConvertible, Equatable {
        case alreadyLocked(path: String)
        case timedOut(path: String)
        case system(SystemError)

        public var description: String {
            switch self {
            case .alreadyLocked(let path): return "\(path) is locked by another process"
            case .timedOut(let path): return "\(path) is still locked by another process"
            case .system(let error): return error.description
            }
        }
    }

    public let descriptor: FileDescriptor

    /// Blocks until the lock is granted (creating the file, owner-only), calling `waiting` first if it
    /// is not granted at once.
    public init(path: String, mode: Mode, waiting: (() -> Void)? = nil) throws {
        descriptor = try FileDescriptor.open(path, O_RDWR | O_CREAT, mode: 0o600)
        let operation = mode == .shared ? LOCK_SH : LOCK_EX
        if flock(descriptor.rawValue, operation | LOCK_NB) == 0 { return }
        waiting?()
        try retryingInterrupts("flock \(path)") { flock(descriptor.rawValue, operation) }
    }

    /// Like `init(path:mode:waiting:)`, but gives up with `.timedOut` after `timeout` seconds.
    /// flock(2) cannot time out, so the lock is retried with LOCK_NB at growing intervals (at most
    /// 50 ms apart: a waiter gets the lock soon after it is free).
    public init(path: String, mode: Mode, timeout: Double, waiting: (() -> Void)? = nil) throws {
        descriptor = try FileDescriptor.open(path, O_RDWR | O_CREAT, mode: 0o600)
        let operation = (mode == .shared ? LOCK_SH : LOCK_EX) | LOCK_NB
        func granted() throws -> Bool {
            while flock(descriptor.rawValue, operation) != 0 {
                let code = errno
                if code == EINTR { continue }
                if code == EWOULDBLOCK { return false }
                throw Failure.system(SystemError("flock \(path)", errno: code))
            }
            return true
        }
        if try granted() { return }
        waiting?()
        let deadline = MonotonicClock.now() + timeout
        var pause: useconds_t = 1000
        while try !granted() {
            guard MonotonicClock.now() < deadline else { throw Failure.timedOut(path: path) }
            usleep(pause)
            pause = min(pause * 2, 50_000)
        }
    }

    /// Takes an exclusive lock without waiting; throws `.alreadyLocked` when another open file holds
    /// it. `creating` makes the file (mode 0600) when it is missing.
    public init(exclusive path: String, creating: Bool = false) throws {
        do {
            descriptor = try FileDescriptor.open(path, creating ? O_RDWR | O_CREAT : O_RDONLY, mode: 0o600)
        } catch let error as SystemError {
            throw Failure.system(error)
        }
        while flock(descriptor.rawValue, LOCK_EX | LOCK_NB) != 0 {
            let code = errno
            if code == EINTR { continue }
            if code == EWOULDBLOCK { throw Failure.alreadyLocked(path: path) }
            throw Failure.system(SystemError("flock \(path)", errno: code))
        }
    }

    /// Locks `file` exclusively without waiting; nil when someone else holds it.
    public init?(tryingExclusive file: FileDescriptor) {
        guard flock(file.rawValue, LOCK_EX | LOCK_NB) == 0 else { return nil }
        descriptor = file
    }
}
