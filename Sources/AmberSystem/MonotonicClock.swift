import Glibc

public enum MonotonicClock {
    /// Seconds on CLOCK_MONOTONIC, for uptimes and measured intervals.
    public static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}
