/// One NIC of one VM on a network: its MAC, the static address dnsmasq gives it, its tap and published ports.
public struct Attachment: Hashable, Sendable, Codable {
    public let vm: String
    /// The NIC's index within the VM (0 for the first), part of the tap's name.
    public let nic: Int
    /// Lowercase, colon-separated (`52:54:00:12:34:56`).
    public let mac: String
    public let ipv4: IPv4Address
    public let tap: String
    public var publishedPorts: [PublishedPort]

    public init(vm: String, nic: Int, mac: String, ipv4: IPv4Address, tap: String, publishedPorts: [PublishedPort] = []) {
        self.vm = vm
        self.nic = nic
        self.mac = mac
        self.ipv4 = ipv4
        self.tap = tap
        self.publishedPorts = publishedPorts
    }
}

/// The NICs attached to one network, as `attachments.json` keeps them.
struct AttachmentTable: Codable {
    static let formatVersion = 1
    var version = AttachmentTable.formatVersion
    var attachments: [Attachment] = []

    init(attachments: [Attachment] = []) {
        self.attachments = attachments
    }

    /// dnsmasq's static leases: `MAC,IP,infinite` a line.
    var dhcpHosts: String {
        attachments.map { "\($0.mac),\($0.ipv4),infinite\n" }.joined()
    }

    /// The lowest free address of `subnet`'s host range.
    func freeAddress(in subnet: IPv4Subnet) -> IPv4Address? {
        let taken = Set(attachments.map(\.ipv4.value))
        let range = subnet.hostRange
        var candidate = range.lowerBound.value
        while candidate <= range.upperBound.value {
            if !taken.contains(candidate) { return IPv4Address(candidate) }
            candidate += 1
        }
        return nil
    }
}
