import AmberControl
import AmberNetwork

/// One NIC of a VM as `amber ps --json` shows it. Field names are part of Amber's interface: keep them stable.
public struct NICSummary: Encodable, Equatable, Sendable {
    /// `default`, a network's name, `bridge:NAME`, or `clone` (a clone's namespace of its own).
    public var network: String?
    public var mac: String
    public var tap: String
    /// The address Amber's network leases to the NIC; nil on a user's bridge (its DHCP decides) and for a clone
    /// (the guest keeps its origin's address, inside the clone's namespace).
    public var ipv4: String?
    /// The clone's network namespace (`/run/netns/NAME`), nil for a NIC in the host's.
    public var namespace: String?
    /// `HOST:GUEST/tcp|udp` each.
    public var publishedPorts: [String]

    private enum CodingKeys: String, CodingKey {
        case network, mac, tap, ipv4, namespace, publishedPorts
    }

    /// Absent values are written as null, so every object has every field.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(network, forKey: .network)
        try container.encode(mac, forKey: .mac)
        try container.encode(tap, forKey: .tap)
        try container.encode(ipv4, forKey: .ipv4)
        try container.encode(namespace, forKey: .namespace)
        try container.encode(publishedPorts, forKey: .publishedPorts)
    }

    /// The NICs of a VM's configuration, with what its networks know of them.
    static func of(vm: String, configuration: VMConfiguration?, networks: Networks) -> [NICSummary] {
        guard let interfaces = configuration?.networkInterfaces, !interfaces.isEmpty else { return [] }
        let attachments = (try? networks.attachments(of: vm)) ?? []
        return interfaces.enumerated().map { nic, interface in
            let attachment = attachments.first { $0.attachment.nic == nic && $0.network == interface.network }?.attachment
            return NICSummary(
                network: interface.network, mac: interface.macAddress, tap: interface.tapName,
                ipv4: attachment.map { "\($0.ipv4)" }, namespace: interface.networkNamespacePath,
                publishedPorts: attachment?.publishedPorts.map(\.description) ?? [])
        }
    }
}
