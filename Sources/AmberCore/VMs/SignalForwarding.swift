import Glibc
import Synchronization

/// The child a foreground `amber run` forwards its signals to. A global because signal handlers
/// cannot capture context; an atomic because a handler may run on any thread (its lock-free load is
/// safe in a handler); 0 means none.
private let signalTargetPID = Atomic<pid_t>(0)

/// si_code of signals the kernel generates itself, e.g. the terminal's Ctrl-C or hang-up.
private let signalFromKernel: Int32 = 0x80

private func forwardSignal(_ signal: Int32, _ info: UnsafeMutablePointer<siginfo_t>?, _: UnsafeMutableRawPointer?) {
    // The terminal signals the whole foreground process group, amber-vmm included: passing those
    // on would deliver them twice.
    let target = signalTargetPID.load(ordering: .acquiring)
    guard target > 0, let info, info.pointee.si_code != signalFromKernel else { return }
    kill(target, signal)
}

/// amber-vmm stays in `amber run`'s process group, so the terminal's signals and process-group
/// kills reach it directly; signals sent to `amber run` alone (`kill PID`) are passed on to it.
enum SignalForwarding {
    static let forwardedSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// Runs `start` with the forwarded signals blocked, then forwards them to the pid it returns;
    /// signals that arrive in between are delivered (and forwarded) once the handlers are in place.
    /// Afterwards they are unblocked even if `amber` started with them blocked (a parent's worker
    /// thread can pass its mask on), since a blocked SIGTERM would never reach amber-vmm.
    static func forwarding(to start: () throws -> pid_t) rethrows -> pid_t {
        var blocked = sigset_t()
        sigemptyset(&blocked)
        for signal in forwardedSignals { sigaddset(&blocked, signal) }
        var inherited = sigset_t()
        pthread_sigmask(SIG_BLOCK, &blocked, &inherited)
        defer {
            for signal in forwardedSignals { sigdelset(&inherited, signal) }
            pthread_sigmask(SIG_SETMASK, &inherited, nil)
        }
        let pid = try start()
        signalTargetPID.store(pid, ordering: .releasing)
        var action = sigaction()
        action.__sigaction_handler.sa_sigaction = forwardSignal
        action.sa_flags = SA_SIGINFO
        sigemptyset(&action.sa_mask)
        for signal in forwardedSignals { sigaction(signal, &action, nil) }
        return pid
    }
}
