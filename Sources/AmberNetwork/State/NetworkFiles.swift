/// Where one network keeps its files: `<home>/networks/<name>/`.
public struct NetworkFiles: Sendable {
    public let directory: String

    public init(networksDirectory: String, name: String) {
        directory = networksDirectory + "/" + name
    }

    /// The network's definition (`NetworkDefinition`).
    public var definition: String { directory + "/network.json" }
    /// The NICs attached to it, their addresses and published ports (`AttachmentTable`).
    public var attachments: String { directory + "/attachments.json" }
    /// dnsmasq's configuration, its static leases (`MAC,IP,infinite` a line), its lease database and its pid.
    public var dnsmasqConfiguration: String { directory + "/dnsmasq.conf" }
    public var dhcpHosts: String { directory + "/dhcp-hosts" }
    public var leases: String { directory + "/dnsmasq.leases" }
    public var pid: String { directory + "/dnsmasq.pid" }
}
