import AmberCore
import ArgumentParser

/// `--home DIR` and `--key-file FILE`, shared by every command that touches Amber's state.
struct HomeOption: ParsableArguments {
    /// The option names, which `amber clone`'s fast path (FastClone.swift) reads too.
    enum OptionName {
        static let home = "home", keyFile = "key-file"
    }

    @Option(
        name: .customLong(OptionName.home),
        help: "State directory (default: $AMBER_HOME, else /var/lib/amber as root, else ~/.local/share/amber).")
    var home: String?

    @Option(
        name: .customLong(OptionName.keyFile),
        help:
            "An encrypted store's key: a passphrase file or a key from `amber store key export` (default: $AMBER_KEY_FILE, else a passphrase prompt on a terminal). Plain stores ignore it."
    )
    var keyFile: String?

    var resolved: AmberHome { AmberHome(explicit: home, keyFile: keyFile) }
}
