/// A network's parts on the host: its bridge, its nftables table and its dnsmasq.
extension Networks {
    /// Makes what is missing of the network on the host (all of it for a new network; after a reboot the
    /// bridge, the table and dnsmasq are gone while the definition stays) and loads its rules. What this call
    /// made is pushed on `undo`.
    func bringUp(_ network: NetworkDefinition, undo: inout Undo) throws(NetworkError) {
        if !Links.exists(network.bridge) {
            try Links.createBridge(network.bridge, address: network.gateway, subnet: network.subnet)
            undo.push { Links.delete(network.bridge) }
        }
        // The table is replaced whenever the NICs change; here it is only made again when it is gone.
        if !Firewall.exists(table: network.tableName) { try loadRules(network, undo: &undo) }
        if network.kind == .nat { try Firewall.enableForwarding() }
        let files = files(network.name)
        if Dnsmasq.runningPID(files: files) == nil {
            try Dnsmasq.start(network, files: files)
            undo.push { Dnsmasq.stop(files: files) }
        }
    }

    /// Replaces the network's table with one for its current published ports.
    func loadRules(_ network: NetworkDefinition, table: AttachmentTable? = nil, undo: inout Undo) throws(NetworkError) {
        let existed = Firewall.exists(table: network.tableName)
        try Firewall.apply(try ruleset(network, table: table))
        if !existed { undo.push { Firewall.remove(table: network.tableName) } }
    }

    func ruleset(_ network: NetworkDefinition, table: AttachmentTable? = nil) throws(NetworkError) -> FirewallRuleset {
        var nics = table
        if nics == nil { nics = try attachmentTable(network.name) }
        guard let table = nics else { return FirewallRuleset(network: network, forwards: []) }
        let forwards = table.attachments.flatMap { attachment in
            attachment.publishedPorts.map { FirewallRuleset.Forward(port: $0, guest: attachment.ipv4) }
        }
        return FirewallRuleset(network: network, forwards: forwards)
    }

    /// Removes the network's dnsmasq, table and bridge, whichever are there.
    func tearDown(_ network: NetworkDefinition) {
        Dnsmasq.stop(files: files(network.name))
        Firewall.remove(table: network.tableName)
        Links.deleteBridge(network.bridge)
    }
}
