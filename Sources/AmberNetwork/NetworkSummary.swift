/// One network as `amber network ls` and `inspect` show it.
public struct NetworkSummary: Encodable, Sendable {
    public let name: String
    public let bridge: String
    public let subnet: IPv4Subnet
    public let gateway: IPv4Address
    public let kind: NetworkDefinition.Kind
    /// The VMs with a NIC on it.
    public let vms: [String]
    /// Whether the bridge exists and dnsmasq runs (both go with a host reboot; the next `amber run` brings them back).
    public let bridgePresent: Bool
    public let dnsmasqRunning: Bool
    /// `inspect` only: every NIC, its address, tap and published ports.
    public var attachments: [Attachment]?
}

extension Networks {
    /// Every network; reads files and /proc only, so any user may list.
    public func list() throws(NetworkError) -> [NetworkSummary] {
        var summaries: [NetworkSummary] = []
        for name in names() {
            summaries.append(try summary(name, withAttachments: false))
        }
        return summaries
    }

    public func inspect(_ name: String) throws(NetworkError) -> NetworkSummary {
        try summary(name, withAttachments: true)
    }

    private func summary(_ name: String, withAttachments: Bool) throws(NetworkError) -> NetworkSummary {
        let definition = try existingDefinition(name)
        let attachments = try attachmentTable(name).attachments
        var vms: [String] = []
        for attachment in attachments where !vms.contains(attachment.vm) { vms.append(attachment.vm) }
        return NetworkSummary(
            name: definition.name, bridge: definition.bridge, subnet: definition.subnet, gateway: definition.gateway,
            kind: definition.kind, vms: vms, bridgePresent: Links.exists(definition.bridge),
            dnsmasqRunning: Dnsmasq.runningPID(files: files(name)) != nil,
            attachments: withAttachments ? attachments : nil)
    }

    /// Every NIC of `vm`, on whichever network.
    public func attachments(of vm: String) throws(NetworkError) -> [(network: String, attachment: Attachment)] {
        var found: [(network: String, attachment: Attachment)] = []
        for name in names() {
            for attachment in try attachmentTable(name).attachments where attachment.vm == vm {
                found.append((name, attachment))
            }
        }
        return found
    }
}
