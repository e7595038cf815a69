/// A computation running on its own thread while the caller does something else; `wait()` returns
/// its value or rethrows its error.
public final class BackgroundWork<Value>: @unchecked Sendable {
    private let lock = ConditionLock()
    private var result: Result<Value, Error>?
    private var thread: NativeThread?

    public init(name: String, _ body: @escaping () throws -> Value) throws {
        thread = try NativeThread(name: name) { [self] in
            let outcome = Result { try body() }
            lock.withLock {
                result = outcome
                lock.broadcast()
            }
        }
    }

    public func wait() throws -> Value {
        let outcome = lock.withLock {
            lock.wait { result != nil }
            return result!
        }
        thread?.join()
        return try outcome.get()
    }
}
