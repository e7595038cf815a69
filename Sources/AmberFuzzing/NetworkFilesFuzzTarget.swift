#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import AmberNetwork

/// A network's files as `amber` reads them (`NetworkFileCheck`): `network.json` of network "web", and
/// `attachments.json` of a fixed network on 10.213.0.0/24.
enum NetworkFilesFuzzTarget {
    static let network = NetworkDefinition(
        name: "web", bridge: "amber-web", subnet: IPv4Subnet(base: IPv4Address(0x0AD5_0000), prefixLength: 24), kind: .nat)

    static func runDefinition(_ bytes: UnsafeRawBufferPointer) throws {
        let definition: NetworkDefinition
        do {
            definition = try NetworkFileCheck.definition(Data(bytes), name: "web", path: "network.json")
        } catch {
            try requireOneLine(error, from: "the network definition check")
            return
        }
        try require(definition.name == "web", "a definition of another network accepted")
        try require(definition.bridge.utf8.count <= 15 && !definition.bridge.isEmpty, "bridge \(definition.bridge) accepted")
        try require((8...29).contains(definition.subnet.prefixLength), "subnet \(definition.subnet) accepted")
        let again = try JSONDecoder().decode(NetworkDefinition.self, from: try JSONEncoder().encode(definition))
        try require(again == definition, "a definition, encoded and decoded again, differs")
    }

    static func runAttachments(_ bytes: UnsafeRawBufferPointer) throws {
        let attachments: [Attachment]
        do {
            attachments = try NetworkFileCheck.attachments(Data(bytes), of: network, path: "attachments.json")
        } catch {
            try requireOneLine(error, from: "the NIC table check")
            return
        }
        try require(attachments.count <= NetworkFileCheck.maximumAttachments, "\(attachments.count) NICs accepted")
        for attachment in attachments {
            try require(network.subnet.hostRange.contains(attachment.ipv4), "address \(attachment.ipv4) accepted")
            // What goes into dnsmasq's hosts file must be one line of MAC and address, nothing more.
            try require(
                attachment.mac.utf8.count == 17 && attachment.mac.allSatisfy { $0.isHexDigit || $0 == ":" },
                "MAC \(attachment.mac) accepted")
            try require(!attachment.vm.contains(where: \.isNewline), "a VM name with a line break accepted")
        }
        try require(Set(attachments.map(\.ipv4)).count == attachments.count, "an address given twice accepted")
    }
}
