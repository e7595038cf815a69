import AmberSystem
import Glibc

/// flock(2) locks: the kernel drops them when the holder's descriptor closes, including when the
/// holder dies, so a held lock means a live owner.
enum FileLock {
    /// Whether another open file description holds an exclusive lock on `path`. Probes with a shared
    /// lock held for an instant; a missing file is not held.
    static func isHeld(at path: String) -> Bool {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        while true {
            if flock(fd, LOCK_SH | LOCK_NB) == 0 { return false }
            if errno != EINTR { return errno == EWOULDBLOCK }
        }
    }

    /// Takes an exclusive lock on `path` (creating the file), or returns nil when someone else holds
    /// it. The lock lasts as long as the returned descriptor.
    static func acquire(at path: String) throws -> FileDescriptor? {
        let file = try FileDescriptor.open(path, O_RDWR | O_CREAT, mode: 0o600)
        while true {
            if flock(file.rawValue, LOCK_EX | LOCK_NB) == 0 { return file }
            let code = errno
            if code == EWOULDBLOCK { return nil }
            if code != EINTR { throw SystemError("flock \(path)", errno: code) }
        }
    }
}
