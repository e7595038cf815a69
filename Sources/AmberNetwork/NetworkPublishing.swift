extension Networks {
    /// Publishes `ports` of `vm`'s first NIC, replacing what it published before: DNAT rules in its network's
    /// table. Refused for a host port another VM publishes or a program on the host listens on, and on an
    /// isolated network. Ports stay with the attachment (a restart or rollback keeps them) until `unpublish` or
    /// `detach`.
    public func publish(vm: String, ports: [PublishedPort]) throws(NetworkError) {
        try NetworkAdmin.require("publishing ports of VM \(vm)")
        try locked { () throws(NetworkError) in
            guard let (name, attachment) = try attachments(of: vm).first(where: { $0.attachment.nic == 0 }) else {
                throw .notAttached(vm: vm)
            }
            let network = try existingDefinition(name)
            if network.kind == .isolated, !ports.isEmpty { throw .publishOnIsolated(network: name) }
            try checkFree(ports, for: vm, alreadyPublished: attachment.publishedPorts)
            let old = try attachmentTable(name)
            var table = old
            for index in table.attachments.indices where table.attachments[index] == attachment {
                table.attachments[index].publishedPorts = ports
            }
            try Undo.running { (undo: inout Undo) throws(NetworkError) in
                try save(table, of: network, previous: old, undo: &undo)
            }
        }
    }

    /// Takes every published port of `vm` away.
    public func unpublish(vm: String) throws(NetworkError) {
        guard try attachments(of: vm).contains(where: { !$0.attachment.publishedPorts.isEmpty }) else { return }
        try publish(vm: vm, ports: [])
    }

    /// A host port can be published once: refused when another of Amber's VMs (on any network) publishes it,
    /// when `ports` names it twice, or when a program on the host listens on it (ports `vm` already publishes
    /// are its own: the DNAT rule holds no socket).
    private func checkFree(_ ports: [PublishedPort], for vm: String, alreadyPublished: [PublishedPort]) throws(NetworkError) {
        var seen = Set<String>()
        for port in ports {
            let key = "\(port.hostPort)/\(port.transport.rawValue)"
            guard seen.insert(key).inserted else { throw .portTaken(port, by: "another --publish of VM \(vm)") }
        }
        for name in names() {
            for other in try attachmentTable(name).attachments where other.vm != vm {
                if let clash = ports.first(where: { port in
                    other.publishedPorts.contains { $0.hostPort == port.hostPort && $0.transport == port.transport }
                }) {
                    throw .portTaken(clash, by: "VM \(other.vm)")
                }
            }
        }
        for port in ports where !alreadyPublished.contains(port) && !PortAvailability.isFree(port) {
            throw .portTaken(port, by: "a program on this host")
        }
    }
}
