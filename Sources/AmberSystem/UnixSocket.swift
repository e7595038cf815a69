import CSystem
import Glibc

/// A listening Unix stream socket at a path. The path is created with mode 0600 (only the owner
/// can connect) and removed when the listener goes away.
public final class UnixListener: Sendable {
    public let path: String
    public let descriptor: FileDescriptor
    /// The socket file's identity once in place: `removePath` leaves a file that replaced it alone (a
    /// rollback renames this one aside and its successor listens at the same path).
    private let identity: (device: UInt64, inode: UInt64)?

    /// The path appears only once the socket listens (it is bound under a temporary name and renamed
    /// into place), so a client that sees the path can connect.
    public init(path: String) throws {
        self.path = path
        let temporaryPath = "\(path).\(getpid()).tmp"
        var address = try UnixSocket.address(for: temporaryPath)
        let fd = try retryingInterrupts("socket") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        descriptor = FileDescriptor(owning: fd)
        unlink(temporaryPath)
        // Created 0600 from the start (umask), so no other user can connect in the window before chmod.
        let oldMask = umask(0o177)
        defer { umask(oldMask) }
        _ = try withUnsafePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                try retryingInterrupts("bind \(temporaryPath)") { bind(fd, sa, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        }
        do {
            try retryingInterrupts("chmod \(temporaryPath)") { chmod(temporaryPath, 0o600) }
            try retryingInterrupts("listen \(path)") { listen(fd, 16) }
            try retryingInterrupts("rename \(temporaryPath) to \(path)") { rename(temporaryPath, path) }
            identity = Self.identity(of: path)
        } catch {
            unlink(temporaryPath)
            throw error
        }
    }

    /// Blocks until a client connects.
    public func accept() throws -> FileDescriptor {
        let fd = try retryingInterrupts("accept \(path)") { Glibc.accept(descriptor.rawValue, nil, nil) }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return FileDescriptor(owning: fd)
    }

    /// Removes the socket's path, so clients fail to connect rather than hang.
    public func removePath() {
        guard let identity, let current = Self.identity(of: path),
            current.device == identity.device, current.inode == identity.inode
        else { return }
        unlink(path)
    }

    private static func identity(of path: String) -> (device: UInt64, inode: UInt64)? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return (UInt64(info.st_dev), UInt64(info.st_ino))
    }

    deinit {
        removePath()
    }
}

public enum UnixSocket {
    public static func connect(path: String) throws -> FileDescriptor {
        var address = try address(for: path)
        let fd = try retryingInterrupts("socket") { socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0) }
        let socketFD = FileDescriptor(owning: fd)
        _ = try withUnsafePointer(to: &address) { pointer in
            try pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                try retryingInterrupts("connect \(path)") { Glibc.connect(fd, sa, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
        }
        return socketFD
    }

    static func address(for path: String) throws -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard bytes.count < capacity else {
            throw SystemError("socket path \(path) (longer than \(capacity - 1) bytes)", errno: ENAMETOOLONG)
        }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }
}

extension FileDescriptor {
    /// The process at the other end of a connected Unix socket, as the kernel recorded it at connect time
    /// (SO_PEERCRED): not something the peer can forge.
    /// Bounds each blocking read and write on this socket to `seconds` (zero: no bound).
    public func setSocketTimeout(_ seconds: Double) throws {
        var value = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1_000_000))
        for option in [SO_RCVTIMEO, SO_SNDTIMEO] {
            try retryingInterrupts("setsockopt timeout") {
                setsockopt(rawValue, SOL_SOCKET, option, &value, socklen_t(MemoryLayout<timeval>.size))
            }
        }
    }

    public func peerCredentials() throws -> (pid: Int32, uid: UInt32, gid: UInt32) {
        var pid: Int32 = 0, uid: UInt32 = 0, gid: UInt32 = 0
        try retryingInterrupts("getsockopt SO_PEERCRED") { csystem_peer_credentials(rawValue, &pid, &uid, &gid) }
        return (pid, uid, gid)
    }
}
