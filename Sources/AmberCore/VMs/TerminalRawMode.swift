import Glibc

/// A terminal's settings, saved so they can be put back whatever happened in between.
struct SavedTerminalSettings {
    let descriptor: Int32
    let settings: termios

    /// Nil when `descriptor` is not a terminal.
    init?(_ descriptor: Int32) {
        var settings = termios()
        guard isatty(descriptor) == 1, tcgetattr(descriptor, &settings) == 0 else { return nil }
        self.descriptor = descriptor
        self.settings = settings
    }

    func restore() {
        var settings = settings
        tcsetattr(descriptor, TCSANOW, &settings)
    }
}

/// Puts a terminal in raw mode (every byte, Ctrl-C included, goes to the guest) until `restore`.
struct TerminalRawMode {
    private let saved: SavedTerminalSettings

    /// Nil when `descriptor` is not a terminal.
    init?(_ descriptor: Int32) {
        guard let saved = SavedTerminalSettings(descriptor) else { return nil }
        self.saved = saved
        var raw = saved.settings
        cfmakeraw(&raw)
        tcsetattr(descriptor, TCSANOW, &raw)
    }

    func restore() {
        saved.restore()
    }
}
