import CSystem
import Glibc

/// A counter the kernel can signal (KVM ioeventfd) or wait on (KVM irqfd), and threads can poll.
public final class EventFD: Sendable {
    public let descriptor: FileDescriptor

    public init(nonBlocking: Bool = false) throws {
        let flags = EFD_CLOEXEC | (nonBlocking ? EFD_NONBLOCK : 0)
        let fd = try retryingInterrupts("eventfd") { eventfd(0, Int32(flags)) }
        descriptor = FileDescriptor(owning: fd)
    }

    public func signal(_ value: UInt64 = 1) throws {
        var value = value
        try retryingInterrupts("eventfd write") { Glibc.write(descriptor.rawValue, &value, 8) }
    }

    /// Returns the accumulated count and resets it; blocks while it is zero unless non-blocking.
    public func wait() throws -> UInt64 {
        var value: UInt64 = 0
        try retryingInterrupts("eventfd read") { Glibc.read(descriptor.rawValue, &value, 8) }
        return value
    }
}
