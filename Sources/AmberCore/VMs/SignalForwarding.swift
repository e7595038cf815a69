import Glibc

/// The child a foreground `amber run` forwards its signals to. A plain global because signal
/// handlers cannot capture context; 0 means none.
private var signalTargetPID: pid_t = 0

private func forwardSignal(_ signal: Int32) {
    guard signalTargetPID > 0 else { return }
    // A closing terminal (SIGHUP) should stop the VM the same way `kill` does.
    kill(signalTargetPID, signal == SIGHUP ? SIGTERM : signal)
}

/// amber-vmm runs in its own session, so Ctrl-C on a cooked terminal, `kill amber` or a closing
/// terminal reach only `amber`; it passes each on to amber-vmm exactly once.
enum SignalForwarding {
    static let forwardedSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

    /// Runs `start` with the forwarded signals blocked, then forwards them to the pid it returns;
    /// signals that arrive in between are delivered (and forwarded) once the handlers are in place.
    static func forwarding(to start: () throws -> pid_t) rethrows -> pid_t {
        var blocked = sigset_t()
        sigemptyset(&blocked)
        for signal in forwardedSignals { sigaddset(&blocked, signal) }
        var previous = sigset_t()
        pthread_sigmask(SIG_BLOCK, &blocked, &previous)
        defer { pthread_sigmask(SIG_SETMASK, &previous, nil) }
        let pid = try start()
        signalTargetPID = pid
        var action = sigaction()
        action.__sigaction_handler.sa_handler = forwardSignal
        sigemptyset(&action.sa_mask)
        for signal in forwardedSignals { sigaction(signal, &action, nil) }
        return pid
    }
}
