import AmberSystem
import Glibc

/// A device's own thread: it sleeps on the notify eventfd (a KVM ioeventfd once the VMM registers
/// it), runs `work` for each wake-up, and can be paused so that no request is in flight.
final class DeviceWorker: @unchecked Sendable {
    let notifyEvent: EventFD
    private let condition = ConditionLock()
    private var paused = false
    private var busy = false
    private var stopping = false
    private var finished = false
    /// Set by the worker itself once it runs, so `stop()` can tell when the worker calls it.
    private var workerThread: pthread_t?

    init(name: String, notifyEvent: EventFD, work: @escaping @Sendable () -> Void) throws {
        self.notifyEvent = notifyEvent
        try NativeThread.detached(name: name) { [unowned self] in self.run(work) }
    }

    /// True once a pause was requested: long batches check it between requests.
    var pauseRequested: Bool {
        condition.withLock { paused || stopping }
    }

    func wake() {
        _ = try? notifyEvent.signal()
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

    private func run(_ work: () -> Void) {
        condition.withLock { workerThread = pthread_self() }
        while true {
            let woken = (try? notifyEvent.wait()) != nil
            let step: Step = condition.withLock {
                if stopping || !woken {
                    finished = true
                    condition.broadcast()
                    return .finish
                }
                busy = !paused
                return busy ? .work : .skip
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
