import Dispatch
import Foundation

/// Runs `body(worker)` on `workers` threads at once and waits for all of them. Dispatch's worker threads,
/// never Swift's cooperative pool: these bodies block on disk I/O.
func runWorkers(_ workers: Int, _ body: (Int) -> Void) {
    if workers <= 1 {
        body(0)
    } else {
        DispatchQueue.concurrentPerform(iterations: workers, execute: body)
    }
}

/// Hands out consecutive index ranges to workers and remembers the first error any of them hit.
final class WorkQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var next = 0
    private let end: Int
    private let batch: Int
    private(set) var firstError: Error?

    init(count: Int, batch: Int) {
        end = count
        self.batch = max(1, batch)
    }

    /// The next range to process, or nil when the work is done or a worker failed.
    func take() -> Range<Int>? {
        lock.lock()
        defer { lock.unlock() }
        guard firstError == nil, next < end else { return nil }
        let start = next
        next = min(end, next + batch)
        return start..<next
    }

    func fail(_ error: Error) {
        lock.lock()
        if firstError == nil { firstError = error }
        lock.unlock()
    }

    func throwIfFailed() throws {
        if let firstError { throw firstError }
    }
}

/// The number of worker threads for CPU-bound store work: every core.
var storeWorkerCount: Int { max(1, ProcessInfo.processInfo.activeProcessorCount) }

/// Monotonic nanoseconds, for the time breakdowns the benchmark reports.
@inline(__always) func monotonicNanos() -> UInt64 {
    DispatchTime.now().uptimeNanoseconds
}
