import AmberCore
import ArgumentParser

/// `--home DIR`, shared by every command that touches Amber's state.
struct HomeOption: ParsableArguments {
    @Option(name: .long, help: "State directory (default: $AMBER_HOME, else /var/lib/amber as root, else ~/.local/share/amber).")
    var home: String?

    var resolved: AmberHome { AmberHome(explicit: home) }
}
