import AmberSystem
import Glibc

/// Commits an overlay's chunk map in the background, at most `interval` seconds after a write changed it,
/// so that the guest's completed writes survive an amber-vmm killed with SIGKILL (the data is already in
/// the page cache; without a committed map the overlay would read those chunks from its base again).
/// A guest that never sends FLUSH (`sync` on a raw block device sends none) is covered the same way.
/// Polling a flag once per interval costs nothing measurable; the fdatasync runs only after a change.
/// Unchecked: its flags are reached only under `condition`, a ConditionLock, because the thread sleeps on
/// its condition variable between ticks (Synchronization's Mutex has none).
public final class OverlayMapCommitter: @unchecked Sendable {
    public static let defaultInterval = 1.0

    private let overlay: OverlayDisk
    private let interval: Double
    private let condition = ConditionLock()
    private var stopping = false
    private var finished = false
    private let log: (String) -> Void

    /// Starts the committer's thread; `log` hears about a commit that failed (the next tick tries again).
    public init(overlay: OverlayDisk, interval: Double = defaultInterval, log: @escaping (String) -> Void) throws {
        self.overlay = overlay
        self.interval = interval
        self.log = log
        try NativeThread.detached(name: "overlay-commit") { [self] in run() }
    }

    /// Ends the thread and waits for it; the caller then makes the final flush itself.
    public func stop() {
        condition.withLock {
            stopping = true
            condition.broadcast()
            condition.wait { finished }
        }
    }

    private func run() {
        var lastFailure: String?
        while !condition.withLock({ condition.wait(until: { stopping }, timeout: interval) }) {
            do {
                try overlay.commitMapIfChanged()
                lastFailure = nil
            } catch {
                // Said once per distinct failure, not once a second.
                let text = "\(error)"
                if text != lastFailure { log("overlay \(overlay.overlayPath): background commit failed: \(text)") }
                lastFailure = text
            }
        }
        condition.withLock {
            finished = true
            condition.broadcast()
        }
    }
}
