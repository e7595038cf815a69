import AmberSystem
import Glibc

/// amber-vmm's own lines on stderr, which is the VM's log when `amber run --detach` started it.
enum Lifecycle {
    static func log(_ line: String) {
        StandardError.write("amber-vmm: \(line)\n")
    }

    static func fail(_ message: String, status: Int32) -> Never {
        log(message)
        exit(status)
    }

    static func realtimeNanoseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return UInt64(now.tv_sec) * 1_000_000_000 + UInt64(now.tv_nsec)
    }
}
