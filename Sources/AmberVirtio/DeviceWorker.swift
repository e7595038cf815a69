import AmberSystem
import Foundation

/// A device's own thread: it sleeps on the notify eventfd (a KVM ioeventfd once the VMM registers
/// it), runs `work` for each wake-up, and can be paused so that no request is in flight.
final class DeviceWorker: @unchecked Sendable {
    let notifyEvent: EventFD
    private let condition = NSCondition()
    private var paused = false
    private var busy = false
    private var stopping = false
    private var finished = false
    private var thread: Thread?

    init(name: String, notifyEvent: EventFD, work: @escaping @Sendable () -> Void) {
        self.notifyEvent = notifyEvent
        let thread = Thread { [unowned self] in self.run(work) }
        thread.name = name
        self.thread = thread
        thread.start()
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
            while busy { condition.wait() }
        }
    }

    func resume() {
        condition.withLock { paused = false }
        wake()
    }

    /// Runs `body` while the worker is idle and cannot start (for swapping the queues it serves).
    func whileIdle<T>(_ body: () -> T) -> T {
        condition.withLock {
            while busy { condition.wait() }
            return body()
        }
    }

    /// Ends the thread and waits for it (unless called from the worker itself, which then ends after
    /// its current batch).
    func stop() {
        condition.withLock { stopping = true }
        wake()
        guard Thread.current != thread else { return }
        condition.withLock {
            while !finished { condition.wait() }
        }
    }

    private enum Step {
        case work, skip, finish
    }

    private func run(_ work: () -> Void) {
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
