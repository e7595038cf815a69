import Glibc

/// A mutex with one condition variable: the state shared between vCPU threads, devices and the
/// control server is guarded by one of these, and waiters sleep until a state change is broadcast.
/// Unchecked: it owns raw pointers to a pthread mutex and condition variable, which are made for
/// use from many threads; the pointers themselves never change after `init`.
public final class ConditionLock: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)

    public init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    public func withLock<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body()
    }

    /// Sleeps until `predicate` holds; call only inside `withLock`.
    public func wait(until predicate: () -> Bool) {
        while !predicate() {
            pthread_cond_wait(condition, mutex)
        }
    }

    /// Like `wait(until:)` but gives up after `seconds`; returns whether the predicate holds.
    public func wait(until predicate: () -> Bool, timeout seconds: Double) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        let nanos = Int(deadline.tv_nsec) + Int((seconds - seconds.rounded(.down)) * 1e9)
        deadline.tv_sec += Int(seconds) + nanos / 1_000_000_000
        deadline.tv_nsec = nanos % 1_000_000_000
        while !predicate() {
            if pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT { return predicate() }
        }
        return true
    }

    /// Wakes every waiter; call inside `withLock` after changing the guarded state.
    public func broadcast() {
        pthread_cond_broadcast(condition)
    }
}
