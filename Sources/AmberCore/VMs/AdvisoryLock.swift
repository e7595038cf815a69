import AmberSystem
import Foundation
import Glibc

/// flock(2) locks: the kernel drops them when the holder's descriptor closes, including when the
/// holder dies, so a held lock means a live owner.
enum AdvisoryLock {
    /// The pid holding an exclusive flock on `path` (0 when held by an unknown process, without
    /// /proc), or nil when nobody does or the file is missing.
    ///
    /// Read from /proc/locks rather than by trying the lock: a probing lock, however brief, could make
    /// an amber-vmm starting at that instant fail to take its own lock. /proc/locks names files by
    /// device and inode; only the inode is compared, because some filesystems (btrfs, overlayfs)
    /// report a different device to stat(2) than to /proc/locks.
    static func holder(of path: String) -> Int32? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        guard let table = try? String(contentsOfFile: "/proc/locks", encoding: .utf8) else {
            return probe(path) ? 0 : nil
        }
        for line in table.split(separator: "\n") {
            // "1: FLOCK  ADVISORY  WRITE 4242 00:2d:1234567 0 EOF"; waiters have "->" after the id.
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6, fields[1] == "FLOCK", fields[3] == "WRITE",
                  let inode = fields[5].split(separator: ":").last.flatMap({ UInt64($0) }),
                  inode == UInt64(info.st_ino), let pid = Int32(fields[4]) else { continue }
            return pid
        }
        return nil
    }

    static func isHeld(at path: String) -> Bool { holder(of: path) != nil }

    /// Without /proc: whether a shared lock is refused, i.e. someone holds an exclusive one.
    private static func probe(_ path: String) -> Bool {
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
