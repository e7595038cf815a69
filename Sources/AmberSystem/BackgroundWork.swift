import Synchronization

/// A computation running on its own thread while the caller does something else; `wait()` returns
/// its value or rethrows its error.
public final class BackgroundWork<Value: Sendable>: Sendable {
    private final class Outcome: Sendable {
        let result = Mutex<Result<Value, Error>?>(nil)
    }

    private let outcome = Outcome()
    private let thread: NativeThread

    public init(name: String, _ body: @escaping @Sendable () throws -> Value) throws {
        let outcome = self.outcome
        thread = try NativeThread(name: name) {
            let result = Result { try body() }
            outcome.result.withLock { $0 = result }
        }
    }

    /// Joins the thread, which stored its outcome before it ended.
    public func wait() throws -> Value {
        thread.join()
        return try outcome.result.withLock { $0! }.get()
    }
}
