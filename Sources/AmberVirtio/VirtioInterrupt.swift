import AmberSystem
import Synchronization

/// The device's interrupt line and its interrupt status register. The status bit is set before the
/// line is signalled, so the guest's handler always finds the reason; the VMM wires `signal` to a KVM
/// irqfd on the device's GSI.
public final class VirtioInterrupt: Sendable {
    public static let usedBuffer: UInt32 = 1 << 0
    public static let configurationChange: UInt32 = 1 << 1

    private struct State {
        var pendingStatus: UInt32 = 0
        var deviceNeedsReset = false
    }

    private let state = Mutex(State())
    private let signal: @Sendable () -> Void

    public init(signal: @escaping @Sendable () -> Void) {
        self.signal = signal
    }

    /// An interrupt delivered by writing to `irqfd` (registered with KVM_IRQFD for the device's GSI).
    public convenience init(irqfd: EventFD) {
        self.init { _ = try? irqfd.signal() }
    }

    /// The interrupt status register (bit 0 used buffer, bit 1 configuration change).
    public var status: UInt32 {
        state.withLock { $0.pendingStatus }
    }

    /// Set once the device hit a guest error; cleared by a device reset.
    public var needsReset: Bool {
        state.withLock { $0.deviceNeedsReset }
    }

    public func raise(_ bits: UInt32) {
        state.withLock { $0.pendingStatus |= bits }
        signal()
    }

    func acknowledge(_ bits: UInt32) {
        state.withLock { $0.pendingStatus &= ~bits }
    }

    /// The device met a guest error it cannot recover from: report DEVICE_NEEDS_RESET and tell the
    /// driver through a configuration-change interrupt.
    func markNeedsReset() {
        state.withLock { $0.deviceNeedsReset = true }
        raise(Self.configurationChange)
    }

    func reset() {
        state.withLock { $0 = State() }
    }

    /// Restores saved state; re-signals the line when an interrupt was pending, since a restored
    /// interrupt controller may not remember the edge.
    func restore(status: UInt32, needsReset: Bool) {
        state.withLock { $0 = State(pendingStatus: status, deviceNeedsReset: needsReset) }
        if status != 0 { signal() }
    }
}
