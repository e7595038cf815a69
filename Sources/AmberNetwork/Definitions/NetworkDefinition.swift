/// One of Amber's networks, as `<home>/networks/<name>/network.json` keeps it.
public struct NetworkDefinition: Hashable, Sendable, Codable {
    public enum Kind: String, Sendable, Codable {
        /// Guests reach the outside through the host, masqueraded behind its address.
        case nat
        /// Guests reach each other and the host (DHCP, DNS), nothing beyond.
        case isolated
    }

    public static let formatVersion = 1

    public var version = NetworkDefinition.formatVersion
    public let name: String
    /// The Linux bridge the network's taps are attached to.
    public let bridge: String
    public let subnet: IPv4Subnet
    public let kind: Kind

    public init(name: String, bridge: String, subnet: IPv4Subnet, kind: Kind) {
        self.name = name
        self.bridge = bridge
        self.subnet = subnet
        self.kind = kind
    }

    public var gateway: IPv4Address { subnet.gateway }
    /// The nftables table that holds the network's rules (`table ip amber_<name>`; nft names take no `-`).
    public var tableName: String { "amber_" + name.replacingOccurrences(of: "-", with: "_") }
}
