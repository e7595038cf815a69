import Dispatch
import Foundation
import Glibc
import Synchronization

/// How far a long store operation got: bytes done and the total (0 when not known ahead). Called from
/// the operation's worker threads, several at once.
public typealias ProgressReport = @Sendable (_ done: UInt64, _ total: UInt64) -> Void

/// Runs `body(worker)` on `workers` threads at once and waits for all of them. Dispatch's worker threads,
/// never Swift's cooperative pool: these bodies block on disk I/O.
func runWorkers(_ workers: Int, _ body: @Sendable (Int) -> Void) {
    if workers <= 1 {
        body(0)
    } else {
        DispatchQueue.concurrentPerform(iterations: workers, execute: body)
    }
}

/// Runs `body(worker)` on `workers` threads of its own at once and waits for all of them: for work that
/// waits on the disk long enough that more threads than cores keep every core busy (Dispatch would run
/// no more of these at once than there are cores). Joined pthreads, so that no thread still holds
/// `body` when this returns.
func runThreads(_ workers: Int, _ body: @Sendable (Int) -> Void) {
    guard workers > 1 else { return body(0) }
    withoutActuallyEscaping(body) { body in
        var threads: [pthread_t] = []
        for worker in 1..<workers {
            let job = Unmanaged.passRetained(ThreadJob { body(worker) }).toOpaque()
            var thread = pthread_t()
            let status = pthread_create(
                &thread, nil,
                { job in
                    Unmanaged<ThreadJob>.fromOpaque(job!).takeRetainedValue().run()
                    return nil
                }, job)
            if status == 0 {
                threads.append(thread)
            } else {
                // No thread to spare: do that worker's share here.
                Unmanaged<ThreadJob>.fromOpaque(job).takeRetainedValue().run()
            }
        }
        body(0)
        for thread in threads { pthread_join(thread, nil) }
    }
}

private final class ThreadJob: Sendable {
    let run: @Sendable () -> Void
    init(_ run: @escaping @Sendable () -> Void) { self.run = run }
}

/// Hands out consecutive index ranges to workers and remembers the first error any of them hit.
final class WorkQueue: Sendable {
    private struct State {
        var next = 0
        var firstError: Error?
    }

    private let state = Mutex(State())
    private let end: Int
    private let batch: Int

    init(count: Int, batch: Int) {
        end = count
        self.batch = max(1, batch)
    }

    /// The next range to process, or nil when the work is done or a worker failed.
    func take() -> Range<Int>? {
        state.withLock { state in
            guard state.firstError == nil, state.next < end else { return nil }
            let start = state.next
            state.next = min(end, state.next + batch)
            return start..<state.next
        }
    }

    func fail(_ error: Error) {
        state.withLock { state in
            if state.firstError == nil { state.firstError = error }
        }
    }

    var firstError: Error? { state.withLock { $0.firstError } }

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

/// Nanoseconds since `clock`, which moves on to now: consecutive stages of a worker's loop.
@inline(__always) func lap(_ clock: inout UInt64) -> UInt64 {
    let now = monotonicNanos()
    defer { clock = now }
    return now - clock
}

extension Array {
    /// `transform` of every element, in order, computed on one worker per core; the first error thrown wins.
    func parallelMap<T: Sendable>(_ transform: @Sendable (Element) throws -> T) throws -> [T] where Element: Sendable {
        let workers = Swift.min(ProcessInfo.processInfo.activeProcessorCount, Swift.max(1, count / 64))
        var results = [Result<T, Error>?](repeating: nil, count: count)
        results.withUnsafeMutableBufferPointer { slots in
            // Each worker writes only its own indices (stride by `workers`), and runWorkers returns only
            // when all are done: the writes never meet, which the compiler cannot see through a pointer.
            nonisolated(unsafe) let slots = slots
            runWorkers(workers) { worker in
                for index in Swift.stride(from: worker, to: count, by: workers) {
                    slots[index] = Result { try transform(self[index]) }
                }
            }
        }
        return try results.map { try $0!.get() }
    }
}
