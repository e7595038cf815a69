import AmberStore
import Foundation

/// Where Amber keeps its state: the chunk store, the catalog and one directory per VM.
/// Chosen by `--home`, else `$AMBER_HOME`, else /var/lib/amber for root and
/// `$XDG_DATA_HOME/amber` (or ~/.local/share/amber) for everyone else.
public struct AmberHome: Sendable {
    public let root: URL
    /// Where an encrypted store's key comes from: `--key-file`, else `$AMBER_KEY_FILE`, else a passphrase typed
    /// on the terminal. A plain store ignores it.
    public var keyInput = StoreKeyInput.resolving(keyFile: nil)

    public init(explicit: String?, keyFile: String?) {
        self.init(explicit: explicit)
        keyInput = StoreKeyInput.resolving(keyFile: keyFile)
    }

    public init(explicit: String?) {
        if let explicit, !explicit.isEmpty {
            root = URL(fileURLWithPath: explicit)
        } else if let env = ProcessInfo.processInfo.environment["AMBER_HOME"], !env.isEmpty {
            root = URL(fileURLWithPath: env)
        } else if getuid() == 0 {
            root = URL(fileURLWithPath: "/var/lib/amber")
        } else if let xdg = ProcessInfo.processInfo.environment["XDG_DATA_HOME"], !xdg.isEmpty {
            root = URL(fileURLWithPath: xdg).appendingPathComponent("amber")
        } else {
            root = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/share/amber")
        }
    }

    public var storeDirectory: URL { root.appendingPathComponent("store") }
    public var catalogFile: URL { root.appendingPathComponent("catalog.db") }
    public var vmsDirectory: URL { root.appendingPathComponent("vms") }
    /// Amber's networks: `<networks>/<name>/` holds each one's definition, NICs and dnsmasq files (AmberNetwork).
    public var networksDirectory: URL { root.appendingPathComponent("networks") }

    public func vmDirectory(_ name: String) -> URL { vmsDirectory.appendingPathComponent(name) }
    /// Snapshots taken out of the store for rollback and clone: `<cache>/snapshots/<id>/`.
    public var cacheDirectory: URL { root.appendingPathComponent("cache") }
}
