import Glibc

/// Process-wide signal set-up.
public enum Signals {
    /// The real-time signal that interrupts a vCPU thread's KVM_RUN. Its handler does nothing: the
    /// point is only to make the blocking ioctl return EINTR.
    public static let vcpuKick: Int32 = __libc_current_sigrtmin()

    /// Installs a handler that does nothing for `signal` (not SA_RESTART, so blocking calls return EINTR).
    public static func installNoOpHandler(for signal: Int32) throws {
        var action = sigaction()
        action.__sigaction_handler.sa_handler = { _ in }
        sigemptyset(&action.sa_mask)
        action.sa_flags = 0
        try retryingInterrupts("sigaction \(signal)") { sigaction(signal, &action, nil) }
    }

    /// Makes writes to a closed socket or pipe fail with EPIPE instead of killing the process.
    public static func ignoreBrokenPipes() {
        signal(SIGPIPE, SIG_IGN)
    }
}

extension Signals {
    /// Blocks `signals` in the calling thread and every thread it creates afterwards, and starts a
    /// thread that calls `handler` with each one as it arrives. Call before creating other threads.
    public static func handleOnThread(_ signals: [Int32], _ handler: @escaping @Sendable (Int32) -> Void) throws -> NativeThread {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        let result = pthread_sigmask(SIG_BLOCK, &set, nil)
        guard result == 0 else { throw SystemError("pthread_sigmask", errno: result) }
        let waitSet = set
        return try NativeThread(name: "signals") {
            var waitSet = waitSet
            while true {
                var received: Int32 = 0
                if sigwait(&waitSet, &received) == 0 { handler(received) }
            }
        }
    }
}

extension Signals {
    /// Lets `signal` reach the calling thread even if the thread that created it had it blocked.
    public static func unblockOnThisThread(_ signal: Int32) {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, signal)
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }
}
