import AmberSystem
import AmberTestSupport
import Foundation
import Testing

@testable import AmberNetwork

/// Attaching VMs to real networks, each test inside a network namespace of its own (root only): real bridges,
/// taps, nftables tables and dnsmasq, and every failure midway undone.
@Suite("Network attachment", .enabled(if: NetworkNamespace.available))
struct NetworkAttachmentTests {
    static let mac1 = "52:54:00:00:00:01"
    static let mac2 = "52:54:00:00:00:02"

    @Test func attachGivesATapOnTheBridgeAndAStableStaticLease() throws {
        let bed = try NetworkTestBed()
        defer { bed.remove() }
        try bed.inside { try $0.create(name: "lan", subnet: try .parse("10.60.0.0/24")) }
        let first = try bed.inside { try $0.attach(vm: "vm1", network: "lan", mac: Self.mac1, ownerUID: 0) }
        #expect(first.ipv4.description == "10.60.0.2")
        #expect(try bed.master(of: first.tap) == "amber-lan")
        // amber-vmm's side opens it as made (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR).
        let opened = try bed.namespace.perform { try TapDevice.attach(name: first.tap).name }
        #expect(opened == first.tap)
        let files = NetworkFiles(networksDirectory: bed.networks.directory, name: "lan")
        #expect(try String(contentsOfFile: files.dhcpHosts, encoding: .utf8) == "\(Self.mac1),10.60.0.2,infinite\n")

        // Again (a restart, a rollback): the same address and tap; a lost tap (a reboot) is made again.
        _ = try bed.run(NetworkNamespace.ip, ["link", "del", "dev", first.tap])
        let again = try bed.inside { try $0.attach(vm: "vm1", network: "lan", mac: Self.mac1, ownerUID: 0) }
        #expect(again == first)
        #expect(try bed.master(of: first.tap) == "amber-lan")

        let second = try bed.inside { try $0.attach(vm: "vm2", network: "lan", mac: Self.mac2, ownerUID: 0) }
        #expect(second.ipv4.description == "10.60.0.3" && second.tap != first.tap)
        #expect(try bed.inside { try $0.inspect("lan").vms } == ["vm1", "vm2"])

        try bed.inside { try $0.detach(vm: "vm1") }
        #expect(try !bed.linkExists(first.tap))
        #expect(try String(contentsOfFile: files.dhcpHosts, encoding: .utf8) == "\(Self.mac2),10.60.0.3,infinite\n")
        // The released address is handed out again.
        let third = try bed.inside { try $0.attach(vm: "vm3", network: "lan", mac: "52:54:00:00:00:03", ownerUID: 0) }
        #expect(third.ipv4.description == "10.60.0.2")

        #expect(throws: NetworkError.inUse(network: "lan", vm: "vm2")) { try bed.inside { try $0.remove("lan") } }
        try bed.inside { networks in
            try networks.detach(vm: "vm2")
            try networks.detach(vm: "vm3")
            try networks.remove("lan")
        }
        #expect(try bed.links().isEmpty)
        #expect(try !bed.tableExists("amber_lan"))
        #expect(try !bed.processes().contains("dnsmasq"))
    }

    /// A reboot takes the bridge, the table, dnsmasq and the taps and leaves the home: the next attach brings the
    /// network back as it was, with the NIC's address.
    @Test func attachBringsBackANetworkTheHostLost() throws {
        let bed = try NetworkTestBed()
        defer { bed.remove() }
        try bed.inside { try $0.create(name: "lan", subnet: try .parse("10.65.0.0/24")) }
        let before = try bed.inside { try $0.attach(vm: "vm1", network: "lan", mac: Self.mac1, ownerUID: 0) }
        let pids = try runProcess(URL(fileURLWithPath: NetworkNamespace.ip), ["netns", "pids", bed.namespace.name]).stdout
        for pid in pids.split(whereSeparator: \.isNewline).compactMap({ pid_t($0) }) { kill(pid, SIGKILL) }
        try bed.expectSuccess(bed.run(NetworkNamespace.ip, ["link", "del", "dev", before.tap]))
        try bed.expectSuccess(bed.run(NetworkNamespace.ip, ["link", "del", "dev", "amber-lan"]))
        try bed.expectSuccess(bed.run("/usr/sbin/nft", ["delete", "table", "ip", "amber_lan"]))
        #expect(try bed.inside { try $0.inspect("lan") }.dnsmasqRunning == false)

        let after = try bed.inside { try $0.attach(vm: "vm1", network: "lan", mac: Self.mac1, ownerUID: 0) }
        #expect(after == before)
        let network = try bed.inside { try $0.inspect("lan") }
        #expect(network.bridgePresent && network.dnsmasqRunning)
        #expect(try bed.master(of: after.tap) == "amber-lan" && bed.tableExists("amber_lan"))
    }

    @Test func theDefaultNetworkIsMadeOnFirstUseOnAFreeSubnet() throws {
        let bed = try NetworkTestBed()
        defer { bed.remove() }
        // The first candidate is taken by an address of the "host".
        try bed.expectSuccess(bed.run(NetworkNamespace.ip, ["link", "add", "busy0", "type", "bridge"]))
        try bed.expectSuccess(bed.run(NetworkNamespace.ip, ["addr", "add", "10.213.0.9/16", "dev", "busy0"]))
        let attachment = try bed.inside { try $0.attach(vm: "vm1", network: "default", mac: Self.mac1, ownerUID: 0) }
        let network = try bed.inside { try $0.inspect("default") }
        #expect(network.subnet.description == "10.214.0.0/24" && network.bridge == "amber-default")
        #expect(network.dnsmasqRunning && network.bridgePresent)
        #expect(attachment.ipv4.description == "10.214.0.2")
        #expect(try bed.tableExists("amber_default"))
        #expect(try bed.run("/usr/bin/cat", ["/proc/sys/net/ipv4/ip_forward"]).stdout == "1\n")
    }

    @Test func aDefaultNetworkThatCannotStartLeavesNothing() throws {
        let bed = try NetworkTestBed()
        defer { bed.remove() }
        // Something holds the DNS port on every address, so dnsmasq cannot bind the gateway's: the last step fails.
        let blocker = try bed.namespace.perform { try HeldPort(port: 53, udp: true) }
        #expect(throws: NetworkError.self) { try bed.inside { try $0.attach(vm: "vm1", network: "default", mac: Self.mac1, ownerUID: 0) } }
        withExtendedLifetime(blocker) {}
        #expect(try bed.links().isEmpty)
        #expect(try bed.tables().isEmpty)
        #expect(try !bed.processes().contains("dnsmasq"))
        #expect(bed.networks.names().isEmpty)
        #expect(!FileManager.default.fileExists(atPath: bed.networks.directory + "/default"))
    }

    @Test func anAttachThatFailsMidwayRemovesItsTapAndLease() throws {
        let bed = try NetworkTestBed()
        defer { bed.remove() }
        try bed.inside { try $0.create(name: "lan", subnet: try .parse("10.61.0.0/24")) }
        let files = NetworkFiles(networksDirectory: bed.networks.directory, name: "lan")
        // The NIC table cannot be replaced: a directory stands where it goes.
        try FileManager.default.createDirectory(atPath: files.attachments, withIntermediateDirectories: false)
        #expect(throws: NetworkError.self) { try bed.inside { try $0.attach(vm: "vm1", network: "lan", mac: Self.mac1, ownerUID: 0) } }
        #expect(try bed.links() == ["amber-lan"])
        #expect((try? String(contentsOfFile: files.dhcpHosts, encoding: .utf8)) == "")
        try FileManager.default.removeItem(atPath: files.attachments)
        try bed.inside { try $0.remove("lan") }
    }

    @Test func badInputIsRefusedBeforeAnythingIsMade() throws {
        let bed = try NetworkTestBed()
        defer { bed.remove() }
        #expect(throws: NetworkError.unknownNetwork("nosuch")) {
            try bed.inside { try $0.attach(vm: "vm1", network: "nosuch", mac: Self.mac1, ownerUID: 0) }
        }
        #expect(throws: NetworkError.badMAC("01:00:5e:00:00:01")) {
            try bed.inside { try $0.attach(vm: "vm1", network: "default", mac: "01:00:5e:00:00:01", ownerUID: 0) }
        }
        #expect(throws: NetworkError.bridgeNameTooLong("amber-production", network: "production")) {
            try bed.inside { try $0.create(name: "production", subnet: try .parse("10.62.0.0/24")) }
        }
        #expect(throws: NetworkError.notAttached(vm: "vm1")) {
            try bed.inside { try $0.publish(vm: "vm1", ports: [try .parse("8080:80")]) }
        }
        #expect(try bed.links().isEmpty && bed.tables().isEmpty)
    }
}
