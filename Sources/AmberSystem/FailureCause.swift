import Glibc

/// Why an operation failed, kept whole under the one-line message a user reads: the text and, when a system
/// call failed, its errno. A caller (amberd, a script through the exit code, a test) can then tell a full disk
/// from a missing file or a refused permission without parsing the message.
public struct FailureCause: Error, Equatable, Sendable, CustomStringConvertible {
    public let reason: String
    public let errno: Int32?

    public init(reason: String, errno: Int32? = nil) {
        self.reason = reason
        self.errno = errno
    }

    /// A failed system call: the reason is strerror's text.
    public init(errno: Int32) {
        self.init(reason: String(cString: strerror(errno)), errno: errno)
    }

    /// The cause an error carries: its description as the reason, its errno where it has one (a `SystemError`,
    /// an error that keeps a cause; Foundation's file errors: `FailureCause(foundation:)` in AmberStore).
    public init(_ error: any Error) {
        self.init(reason: "\(error)", errno: error.underlyingErrno)
    }

    public var description: String { reason }
}

/// An error whose message names the operation and what to do, and which keeps what caused it.
public protocol CausedError: Error {
    var cause: FailureCause? { get }
}

extension Error {
    /// The errno of the failed system call at the bottom of this error, if one is there.
    public var underlyingErrno: Int32? {
        if let system = self as? SystemError { return system.errno }
        if let cause = self as? FailureCause { return cause.errno }
        return (self as? any CausedError)?.cause?.errno
    }
}
