import CSystem
import Glibc

/// An OS thread of its own, for blocking work (KVM_RUN, blocking reads) that must never run on
/// Swift's cooperative pool. It can be sent a signal, which is how a vCPU is kicked out of KVM_RUN.
public final class NativeThread: @unchecked Sendable {
    private let handle: pthread_t
    private var joined = false

    private final class Box {
        let name: String
        let body: () -> Void
        init(_ name: String, _ body: @escaping () -> Void) { self.name = name; self.body = body }
    }

    /// `name` (its first 15 bytes) is the thread's name in `top -H`, gdb and perf.
    public init(name: String, _ body: @escaping () -> Void) throws {
        let box = Unmanaged.passRetained(Box(name, body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(&thread, nil, { context in
            let box = Unmanaged<Box>.fromOpaque(context!).takeRetainedValue()
            csystem_name_this_thread(box.name)
            box.body()
            return nil
        }, box)
        guard result == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw SystemError("pthread_create \(name)", errno: result)
        }
        handle = thread
    }

    /// Delivers `signal` to this thread only.
    public func send(signal: Int32) {
        pthread_kill(handle, signal)
    }

    public func join() {
        guard !joined else { return }
        joined = true
        pthread_join(handle, nil)
    }

    func detach() {
        guard !joined else { return }
        joined = true
        pthread_detach(handle)
    }
}

extension NativeThread {
    /// Starts a thread nobody joins: its resources go back to the system when it ends.
    public static func detached(name: String, _ body: @escaping () -> Void) throws {
        let thread = try NativeThread(name: name, body)
        thread.detach()
    }
}
