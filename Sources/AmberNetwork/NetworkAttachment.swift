import Foundation
import Glibc

extension Networks {
    /// Attaches NIC `nic` of `vm` (MAC `mac`) to `network`: a persistent tap `ownerUID` may open, on the
    /// network's bridge, and a static lease for the MAC. The default network is made on first use; a network
    /// whose host parts went with a reboot is brought up again. Attaching again (a restart, a rollback) keeps the
    /// NIC's address and published ports. Nothing is left half done: a failure undoes the tap, the lease and
    /// whatever of the network this call made. `alternateTap`: the NIC's other tap (see `TapName`).
    public func attach(vm: String, network name: String, mac: String, nic: Int = 0, ownerUID: uid_t, alternateTap: Bool = false)
        throws(NetworkError)
        -> Attachment
    {
        let mac = try MACText.canonical(mac)
        try NetworkName.validate(name)
        try NetworkAdmin.require("attaching VM \(vm) to network \(name)")
        return try locked { () throws(NetworkError) -> Attachment in
            try Undo.running { (undo: inout Undo) throws(NetworkError) -> Attachment in
                let network: NetworkDefinition
                if let existing = try definition(name) {
                    network = existing
                } else if name == NetworkName.defaultNetwork || name == NetworkName.isolatedNetwork {
                    network = try makeBuiltInNetwork(name)
                    undo.push {
                        self.tearDown(network); self.removeDirectory(network.name)
                    }
                } else {
                    throw .unknownNetwork(name)
                }
                try detachElsewhere(vm: vm, nic: nic, keeping: name)
                try bringUp(network, undo: &undo)
                return try attach(vm: vm, nic: nic, mac: mac, ownerUID: ownerUID, alternateTap: alternateTap, to: network, undo: &undo)
            }
        }
    }

    private func attach(
        vm: String, nic: Int, mac: String, ownerUID: uid_t, alternateTap: Bool, to network: NetworkDefinition, undo: inout Undo
    )
        throws(NetworkError) -> Attachment
    {
        let old = try attachmentTable(network.name)
        var table = old
        let tap = TapName.of(vm: vm, nic: nic, networksDirectory: directory, alternate: alternateTap)
        let attachment: Attachment
        if let index = table.attachments.firstIndex(where: { $0.vm == vm && $0.nic == nic }) {
            let existing = table.attachments[index]
            attachment = Attachment(vm: vm, nic: nic, mac: mac, ipv4: existing.ipv4, tap: tap, publishedPorts: existing.publishedPorts)
            table.attachments[index] = attachment
        } else {
            guard let address = table.freeAddress(in: network.subnet) else {
                throw .addressesExhausted(network: network.name, subnet: network.subnet)
            }
            attachment = Attachment(vm: vm, nic: nic, mac: mac, ipv4: address, tap: tap)
            table.attachments.append(attachment)
        }
        if Links.exists(tap), Links.master(of: tap) != network.bridge { Links.delete(tap) }
        if !Links.exists(tap) {
            try Links.createTap(tap, bridge: network.bridge, ownerUID: ownerUID)
            undo.push { Links.delete(tap) }
        }
        // Attaching again unchanged (a restart, a rollback) rewrites nothing.
        if table.attachments != old.attachments { try save(table, of: network, previous: old, undo: &undo) }
        return attachment
    }

    /// Writes the table and the static leases, tells dnsmasq, and reloads the rules (published ports); on a later
    /// failure `undo` writes `previous` back.
    func save(_ table: AttachmentTable, of network: NetworkDefinition, previous: AttachmentTable, undo: inout Undo) throws(NetworkError) {
        let files = files(network.name)
        undo.push {
            try? JSONFile.write(previous, to: files.attachments)
            try? JSONFile.writeText(previous.dhcpHosts, to: files.dhcpHosts)
            Dnsmasq.reload(files: files)
            if let rules = try? self.ruleset(network, table: previous) { try? Firewall.apply(rules) }
        }
        try JSONFile.write(table, to: files.attachments)
        try JSONFile.writeText(table.dhcpHosts, to: files.dhcpHosts)
        Dnsmasq.reload(files: files)
        try loadRules(network, table: table, undo: &undo)
    }

    /// A NIC moves to another network: off the one it was on first.
    private func detachElsewhere(vm: String, nic: Int, keeping network: String) throws(NetworkError) {
        for (other, attachment) in try attachments(of: vm) where other != network && attachment.nic == nic {
            try detach(vm: vm, nic: nic, from: other)
        }
    }

    /// Detaches every NIC of `vm` from every network: deletes its taps, releases its addresses (the static
    /// leases go) and its published ports. Nothing to do for a VM without NICs.
    public func detach(vm: String) throws(NetworkError) {
        let found = try attachments(of: vm)
        guard !found.isEmpty else { return }
        try NetworkAdmin.require("detaching VM \(vm) from its network")
        try locked { () throws(NetworkError) in
            for (network, attachment) in try attachments(of: vm) {
                try detach(vm: vm, nic: attachment.nic, from: network)
            }
        }
    }

    private func detach(vm: String, nic: Int, from name: String) throws(NetworkError) {
        let network = try existingDefinition(name)
        let old = try attachmentTable(name)
        var table = old
        let leaving = table.attachments.filter { $0.vm == vm && $0.nic == nic }
        table.attachments.removeAll { $0.vm == vm && $0.nic == nic }
        try Undo.running { (undo: inout Undo) throws(NetworkError) in
            try save(table, of: network, previous: old, undo: &undo)
        }
        // The tap's name is derived again rather than read from the file: a damaged table must not name a link
        // that is not Amber's.
        for attachment in leaving {
            TapName.both(vm: attachment.vm, nic: attachment.nic, networksDirectory: directory).forEach(Links.delete)
        }
    }

    func removeDirectory(_ name: String) {
        try? FileManager.default.removeItem(atPath: files(name).directory)
    }
}
