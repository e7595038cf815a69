import Glibc

/// Puts a terminal into raw mode (every byte, including Ctrl-C, goes to the guest) and restores
/// the saved settings when asked or when this object goes away.
public final class RawTerminal: @unchecked Sendable {
    private let fd: Int32
    private var saved = termios()
    private var restored = false

    /// Returns nil when `fd` is not a terminal.
    public init?(fd: Int32) throws {
        guard isatty(fd) == 1 else { return nil }
        self.fd = fd
        try retryingInterrupts("tcgetattr") { tcgetattr(fd, &saved) }
        var raw = saved
        cfmakeraw(&raw)
        // Keep output post-processing so host-side lines written to stdout still start at column 0.
        raw.c_oflag = saved.c_oflag
        try retryingInterrupts("tcsetattr") { tcsetattr(fd, TCSANOW, &raw) }
    }

    public func restore() {
        guard !restored else { return }
        restored = true
        tcsetattr(fd, TCSANOW, &saved)
    }

    deinit {
        restore()
    }
}
