import Glibc

/// Puts a terminal in raw mode (every byte, Ctrl-C included, goes to the guest) and restores the
/// saved settings when `restore` is called.
final class TerminalRawMode {
    private let descriptor: Int32
    private var saved: termios

    /// Nil when `descriptor` is not a terminal.
    init?(_ descriptor: Int32) {
        var settings = termios()
        guard isatty(descriptor) == 1, tcgetattr(descriptor, &settings) == 0 else { return nil }
        self.descriptor = descriptor
        saved = settings
        var raw = settings
        cfmakeraw(&raw)
        tcsetattr(descriptor, TCSANOW, &raw)
    }

    func restore() {
        tcsetattr(descriptor, TCSANOW, &saved)
    }
}
