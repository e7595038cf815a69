import Glibc

/// An exclusive advisory lock (flock) held on an open file until this object goes away.
public final class FileLock: @unchecked Sendable {
    public enum Failure: Error, CustomStringConvertible, Equatable {
        case alreadyLocked(path: String)
        case system(SystemError)

        public var description: String {
            switch self {
            case .alreadyLocked(let path): return "\(path) is locked by another process"
            case .system(let error): return error.description
            }
        }
    }

    public let descriptor: FileDescriptor

    /// Takes the lock without waiting; throws `.alreadyLocked` when another open file holds it.
    public init(exclusive path: String) throws {
        do {
            descriptor = try FileDescriptor.open(path, O_RDONLY)
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
}
