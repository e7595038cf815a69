/// The names of networks and of the links Amber makes.
public enum NetworkName {
    /// The network `amber run` attaches to when no other is named; made on first use.
    public static let defaultNetwork = "default"
    /// Made on first use like `default`, but its VMs reach only each other and the host.
    public static let isolatedNetwork = "isolated"
    /// Linux's IFNAMSIZ less the terminating zero.
    public static let maximumLinkNameLength = 15
    static let maximumLength = 32

    /// A network's name: a lowercase letter, then lowercase letters, digits and `-` (it becomes part of a bridge
    /// name, an nftables table name and a directory name), at most 32 characters.
    public static func validate(_ name: String) throws(NetworkError) {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first), name.count <= maximumLength,
            name.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" })
        else { throw .badName(name) }
    }

    /// The bridge of network `name` unless the user names one: `amber-<name>`.
    public static func defaultBridge(for name: String) -> String { "amber-" + name }

    /// A link name the kernel takes: 1-15 characters, none of them `/`, `:`, whitespace or control characters.
    static func validateLink(_ link: String, network: String) throws(NetworkError) {
        guard link.utf8.count <= maximumLinkNameLength else { throw .bridgeNameTooLong(link, network: network) }
        guard !link.isEmpty, link != ".", link != "..",
            link.unicodeScalars.allSatisfy({ $0.isASCII && $0.value > 0x20 && $0.value < 0x7F && $0 != "/" && $0 != ":" })
        else { throw .badBridgeName(link) }
    }
}
