import Glibc

/// A listening Unix stream socket at a path. The path is created with mode 0600 (only the owner
/// can connect) and removed when the listener goes away.
public final class UnixListener: @unchecked Sendable {
    public let path: String
    public let descriptor: FileDescriptor

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
        unlink(path)
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
        guard bytes.count < capacity else { throw SystemError("socket path \(path) (longer than \(capacity - 1) bytes)", errno: ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        return address
    }
}
