import Foundation

/// The checks a network's files pass when read: they are Amber's own, owner-only, but a damaged or hand-edited
/// one must not make Amber delete a link that is not its own, write a line dnsmasq would read as something else,
/// or hand out an address outside the network. Anything off is `damaged`, naming the file.
public enum NetworkFileCheck {
    /// NICs a network may hold: a /8 has room for more, but a table this long is not one Amber wrote.
    public static let maximumAttachments = 65_536
    public static let maximumNICsPerVM = 64
    public static let maximumPublishedPorts = 256
    static let maximumVMNameBytes = 255

    public static func definition(_ data: Data, name: String, path: String) throws(NetworkError) -> NetworkDefinition {
        let definition: NetworkDefinition
        do {
            definition = try JSONDecoder().decode(NetworkDefinition.self, from: data)
        } catch {
            throw .damaged(path: path, reason: "\(error)")
        }
        guard definition.version == NetworkDefinition.formatVersion else {
            throw .damaged(path: path, reason: "format \(definition.version), this amber reads \(NetworkDefinition.formatVersion)")
        }
        guard definition.name == name else { throw .damaged(path: path, reason: "it names network \(definition.name)") }
        do {
            try NetworkName.validate(definition.name)
            try NetworkName.validateLink(definition.bridge, network: name)
        } catch {
            throw .damaged(path: path, reason: "\(error)")
        }
        guard NetworkSubnets.networkPrefixLengths(contains: definition.subnet) else {
            throw .damaged(path: path, reason: "subnet \(definition.subnet) is not /8 to /29")
        }
        return definition
    }

    public static func attachments(_ data: Data, of network: NetworkDefinition, path: String) throws(NetworkError) -> [Attachment] {
        let table: AttachmentTable
        do {
            table = try JSONDecoder().decode(AttachmentTable.self, from: data)
        } catch {
            throw .damaged(path: path, reason: "\(error)")
        }
        func damaged(_ reason: String) -> NetworkError { .damaged(path: path, reason: reason) }
        guard table.version == AttachmentTable.formatVersion else { throw damaged("format \(table.version)") }
        guard table.attachments.count <= maximumAttachments else { throw damaged("\(table.attachments.count) NICs") }
        var nics = Set<String>()
        var addresses = Set<UInt32>()
        var macs = Set<String>()
        for attachment in table.attachments {
            let vm = attachment.vm
            guard !vm.isEmpty, vm.utf8.count <= maximumVMNameBytes, vm.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F })
            else { throw damaged("a NIC of a VM with a bad name") }
            guard (0..<maximumNICsPerVM).contains(attachment.nic), nics.insert("\(attachment.nic)/\(vm)").inserted else {
                throw damaged("VM \(vm) has NIC \(attachment.nic) out of range or twice")
            }
            guard (try? MACText.canonical(attachment.mac)) == attachment.mac, macs.insert(attachment.mac).inserted else {
                throw damaged("VM \(vm) has a bad or repeated MAC")
            }
            guard network.subnet.hostRange.contains(attachment.ipv4), addresses.insert(attachment.ipv4.value).inserted else {
                throw damaged("VM \(vm) has address \(attachment.ipv4), outside \(network.subnet) or repeated")
            }
            guard attachment.publishedPorts.count <= maximumPublishedPorts,
                attachment.publishedPorts.allSatisfy({ $0.hostPort > 0 && $0.guestPort > 0 })
            else { throw damaged("VM \(vm) has bad published ports") }
        }
        return table.attachments
    }
}
