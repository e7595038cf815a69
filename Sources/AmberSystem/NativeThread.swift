import CSystem
import Glibc
import Synchronization

/// An OS thread of its own, for blocking work (KVM_RUN, blocking reads) that must never run on
/// Swift's cooperative pool. It can be sent a signal, which is how a vCPU is kicked out of KVM_RUN.
/// The thread carries `name` (the kernel keeps its first 15 bytes), so `top -H`, `gdb` and `perf` show it.
public final class NativeThread: Sendable {
    private let handle: pthread_t
    /// Whether the thread was joined or detached: either may happen once.
    private let released = Atomic(false)

    private final class Start: Sendable {
        let name: String
        let body: @Sendable () -> Void
        init(name: String, body: @escaping @Sendable () -> Void) {
            self.name = name
            self.body = body
        }
    }

    public init(name: String, _ body: @escaping @Sendable () -> Void) throws {
        let start = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread, nil,
            { context in
                let start = Unmanaged<Start>.fromOpaque(context!).takeRetainedValue()
                _ = csystem_name_this_thread(start.name)
                start.body()
                return nil
            }, start)
        guard result == 0 else {
            Unmanaged<Start>.fromOpaque(start).release()
            throw SystemError("pthread_create \(name)", errno: result)
        }
        handle = thread
    }

    /// Delivers `signal` to this thread only.
    public func send(signal: Int32) {
        pthread_kill(handle, signal)
    }

    public func join() {
        guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
        pthread_join(handle, nil)
    }

    func detach() {
        guard !released.exchange(true, ordering: .acquiringAndReleasing) else { return }
        pthread_detach(handle)
    }
}

extension NativeThread {
    /// Starts a thread nobody joins: its resources go back to the system when it ends.
    public static func detached(name: String, _ body: @escaping @Sendable () -> Void) throws {
        let thread = try NativeThread(name: name, body)
        thread.detach()
    }
}
