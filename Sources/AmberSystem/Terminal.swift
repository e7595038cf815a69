import Glibc
import Synchronization

/// Puts a terminal into raw mode (every byte, including Ctrl-C, goes to the guest) and restores
/// the saved settings when asked or when this object goes away.
public final class RawTerminal: Sendable {
    private let fd: Int32
    private let saved: termios
    private let restored = Atomic(false)

    /// Returns nil when `fd` is not a terminal.
    public init?(fd: Int32) throws {
        guard isatty(fd) == 1 else { return nil }
        self.fd = fd
        var settings = termios()
        try retryingInterrupts("tcgetattr") { tcgetattr(fd, &settings) }
        saved = settings
        var raw = settings
        cfmakeraw(&raw)
        // Keep output post-processing so host-side lines written to stdout still start at column 0.
        raw.c_oflag = settings.c_oflag
        try retryingInterrupts("tcsetattr") { tcsetattr(fd, TCSANOW, &raw) }
    }

    public func restore() {
        guard !restored.exchange(true, ordering: .acquiringAndReleasing) else { return }
        var settings = saved
        tcsetattr(fd, TCSANOW, &settings)
    }

    deinit {
        restore()
    }
}
