import Glibc

/// A failed system call: which operation, on what, and the errno it returned.
public struct SystemError: Error, CustomStringConvertible, Equatable {
    public let operation: String
    public let errno: Int32

    public init(_ operation: String, errno: Int32 = Glibc.errno) {
        self.operation = operation
        self.errno = errno
    }

    public var description: String {
        "\(operation): \(String(cString: strerror(errno)))"
    }
}

/// Runs a system call, retrying while it is interrupted by a signal; throws on any other failure.
/// The one place EINTR is handled, so callers never see it.
@discardableResult
public func retryingInterrupts<T: BinaryInteger>(
    _ operation: @autoclosure () -> String,
    _ call: () -> T
) throws -> T {
    while true {
        let result = call()
        if result >= 0 { return result }
        let code = errno
        if code == EINTR { continue }
        throw SystemError(operation(), errno: code)
    }
}
