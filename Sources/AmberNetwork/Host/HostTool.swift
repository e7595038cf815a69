import Glibc

/// The programs that set up a network on the host, each from a Debian package scripts/install-deps installs.
public enum HostTool: String, Sendable, CaseIterable {
    case ip, nft, dnsmasq

    /// Where tools are looked for: root's PATH, never the caller's (a command run with sudo keeps no say in
    /// which `ip` runs).
    static let searchPath = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]

    public var package: String {
        switch self {
        case .ip: return "iproute2"
        case .nft: return "nftables"
        case .dnsmasq: return "dnsmasq-base"
        }
    }

    /// The tool's path, or `toolMissing` naming its package.
    public func path() throws(NetworkError) -> String {
        for directory in Self.searchPath {
            let candidate = directory + "/" + rawValue
            if access(candidate, X_OK) == 0 { return candidate }
        }
        throw .toolMissing(tool: rawValue, package: package)
    }
}
