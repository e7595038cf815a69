import AmberSystem
import Glibc

/// A device's own thread: it sleeps on the notify eventfd (a KVM ioeventfd once the VMM registers
/// it), or in the device's own `waitForWork`, runs `work` for each wake-up, and can be paused so that no
/// request is in flight.
/// Unchecked: its flags are reached only under `condition`, a ConditionLock, because pausing and stopping
/// wait on its condition variable (Synchronization's Mutex has none).
final class DeviceWorker: @unchecked Sendable {
    let notifyEvent: EventFD
    private let condition = ConditionLock()
    private var paused = false
    private var busy = false
    private var stopping = false
    private var finished = false
    /// Set by the worker itself once it runs, so `stop()` can tell when the worker calls it.
    private var workerThread: pthread_t?
    /// Run once by the worker on its next wake-up, before any work (see `confine`).
    private var pendingConfinement: (() throws -> Void)?
    private var confinementFailure: ((Error) -> Void)?

    /// - waitForWork: blocks until there may be work (false: the worker must end); it is told whether the
    ///   worker is paused, and must then wait for `notifyEvent` only (which `wake()` signals) and consume it.
    ///   Without it the worker reads `notifyEvent`.
    init(
        name: String, notifyEvent: EventFD, waitForWork: (@Sendable (_ paused: Bool) -> Bool)? = nil,
        work: @escaping @Sendable () -> Void
    ) throws {
        self.notifyEvent = notifyEvent
        try NativeThread.detached(name: name) { [unowned self] in self.run(waitForWork, work) }
    }

    /// True once a pause was requested: long batches check it between requests.
    var pauseRequested: Bool {
        condition.withLock { paused || stopping }
    }

    func wake() {
        _ = try? notifyEvent.signal()
    }

    /// Has the worker thread run `install` (a seccomp filter: a thread can only filter itself) before it
    /// serves anything more, and wakes it to do so now. If `install` throws, the worker stops and `failed`
    /// hears why: no request is served unconfined.
    func confine(_ install: @escaping () throws -> Void, failed: @escaping (Error) -> Void) {
        condition.withLock {
            pendingConfinement = install
            confinementFailure = failed
        }
        wake()
    }

    func pause() {
        condition.withLock {
            paused = true
            condition.wait { !busy }
        }
    }

    func resume() {
        condition.withLock { paused = false }
        wake()
    }

    /// Runs `body` while the worker is idle and cannot start (for swapping the queues it serves).
    func whileIdle<T>(_ body: () -> T) -> T {
        condition.withLock {
            condition.wait { !busy }
            return body()
        }
    }

    /// Ends the thread and waits for it (unless called from the worker itself, which then ends after
    /// its current batch).
    func stop() {
        let calledByWorker: Bool = condition.withLock {
            stopping = true
            return workerThread.map { pthread_equal($0, pthread_self()) != 0 } ?? false
        }
        wake()
        guard !calledByWorker else { return }
        condition.withLock {
            condition.wait { finished }
        }
    }

    private enum Step {
        case work, skip, finish
    }

    private func run(_ waitForWork: ((Bool) -> Bool)?, _ work: () -> Void) {
        condition.withLock { workerThread = pthread_self() }
        while true {
            let woken: Bool
            if let waitForWork {
                woken = waitForWork(condition.withLock { paused || stopping })
            } else {
                woken = (try? notifyEvent.wait()) != nil
            }
            let step: Step = condition.withLock {
                if stopping || !woken {
                    finished = true
                    condition.broadcast()
                    return .finish
                }
                busy = !paused
                return busy ? .work : .skip
            }
            if let install = condition.withLock({ () -> (() throws -> Void)? in
                defer { pendingConfinement = nil }
                return pendingConfinement
            }) {
                do {
                    try install()
                } catch {
                    condition.withLock { confinementFailure }?(error)
                    condition.withLock {
                        stopping = true
                        busy = false
                        finished = true
                        condition.broadcast()
                    }
                    return
                }
            }
            switch step {
            case .finish: return
            case .skip: continue
            case .work:
                work()
                condition.withLock {
                    busy = false
                    condition.broadcast()
                }
            }
        }
    }
}
