import Testing

@testable import AmberNetwork

/// The values networks are made of, checked without touching any host: subnets, ports, names, MACs, taps,
/// address allocation and the rules' text.
@Suite("Network values")
struct NetworkValuesTests {
    @Test func subnetsParseAndBound() throws {
        let subnet = try IPv4Subnet.parse("10.213.0.0/24")
        #expect(subnet.gateway == IPv4Address("10.213.0.1"))
        #expect(subnet.hostRange == IPv4Address("10.213.0.2")!...IPv4Address("10.213.0.254")!)
        #expect(subnet.mask.description == "255.255.255.0")
        #expect(subnet.overlaps(try IPv4Subnet.parse("10.0.0.0/8")))
        #expect(!subnet.overlaps(try IPv4Subnet.parse("10.214.0.0/24")))
        for bad in ["10.213.0.0", "10.213.0.0/33", "10.213.0.1/24", "300.1.1.1/24", "10.1.1/24", "10.01.0.0/24", "a/b", "", "10.0.0.0/-1"] {
            #expect(throws: NetworkError.self, "\(bad)") { try IPv4Subnet.parse(bad) }
        }
    }

    @Test func publishedPortsParseWithinBounds() throws {
        #expect(try PublishedPort.parse("8080:80") == PublishedPort(hostPort: 8080, guestPort: 80, transport: .tcp))
        #expect(try PublishedPort.parse("5353:53/udp") == PublishedPort(hostPort: 5353, guestPort: 53, transport: .udp))
        #expect(try PublishedPort.parse("1:65535/TCP").guestPort == 65535)
        for bad in [
            "0:80", "80:0", "65536:80", "80", "80:80/sctp", "a:80", ":80", "80:", "8080:80/tcp/udp", "+80:80", "99999999999999999999:1",
        ] {
            #expect(throws: NetworkError.badPublish(bad)) { try PublishedPort.parse(bad) }
        }
    }

    @Test func namesAndLinks() throws {
        for good in ["default", "web", "a-1", String(repeating: "a", count: 32)] { try NetworkName.validate(good) }
        for bad in ["", "Web", "1web", "-web", "web_1", "we b", "web/..", String(repeating: "a", count: 33)] {
            #expect(throws: NetworkError.badName(bad)) { try NetworkName.validate(bad) }
        }
        try NetworkName.validateLink("amber-default", network: "default")
        #expect(throws: NetworkError.bridgeNameTooLong("amber-production", network: "production")) {
            try NetworkName.validateLink("amber-production", network: "production")
        }
        #expect(throws: NetworkError.badBridgeName("br 0")) { try NetworkName.validateLink("br 0", network: "x") }
        #expect(NetworkDefinition(name: "a-b", bridge: "x", subnet: try .parse("10.0.0.0/24"), kind: .nat).tableName == "amber_a_b")
    }

    @Test func macsAreCanonicalAndUnicast() throws {
        #expect(try MACText.canonical("52:54:00:AB:cd:0F") == "52:54:00:ab:cd:0f")
        for bad in ["52:54:00:ab:cd", "52-54-00-ab-cd-0f", "53:54:00:ab:cd:0f", "52:54:00:ab:cd:0g", "52:54:00:ab:cd:0f:00"] {
            #expect(throws: NetworkError.badMAC(bad)) { try MACText.canonical(bad) }
        }
    }

    @Test func tapNamesAreStableShortAndDistinct() {
        let first = TapName.of(vm: "web1", nic: 0, networksDirectory: "/var/lib/amber/networks")
        #expect(first == TapName.of(vm: "web1", nic: 0, networksDirectory: "/var/lib/amber/networks"))
        #expect(first.count == 14 && first.hasPrefix("amt"))
        #expect(first != TapName.of(vm: "web1", nic: 1, networksDirectory: "/var/lib/amber/networks"))
        #expect(first != TapName.of(vm: "web2", nic: 0, networksDirectory: "/var/lib/amber/networks"))
        #expect(first != TapName.of(vm: "web1", nic: 0, networksDirectory: "/tmp/home/networks"))
    }

    @Test func addressesAreAllocatedLowestFirstAndReleased() throws {
        let subnet = try IPv4Subnet.parse("10.1.0.0/29")
        var table = AttachmentTable()
        for index in 0..<5 {
            let address = try #require(table.freeAddress(in: subnet))
            table.attachments.append(Attachment(vm: "vm\(index)", nic: 0, mac: "52:54:00:00:00:0\(index)", ipv4: address, tap: "t\(index)"))
        }
        #expect(table.attachments.map(\.ipv4.description) == ["10.1.0.2", "10.1.0.3", "10.1.0.4", "10.1.0.5", "10.1.0.6"])
        #expect(table.freeAddress(in: subnet) == nil)
        table.attachments.remove(at: 1)
        #expect(table.freeAddress(in: subnet) == IPv4Address("10.1.0.3"))
        #expect(table.dhcpHosts.hasPrefix("52:54:00:00:00:00,10.1.0.2,infinite\n"))
    }

    @Test func rulesForwardPublishedPortsOnlyOnNatNetworks() throws {
        let nat = NetworkDefinition(name: "web", bridge: "amber-web", subnet: try .parse("10.9.0.0/24"), kind: .nat)
        let forward = FirewallRuleset.Forward(port: try .parse("8080:80"), guest: IPv4Address("10.9.0.2")!)
        let udp = FirewallRuleset.Forward(port: try .parse("5353:53/udp"), guest: IPv4Address("10.9.0.3")!)
        let text = FirewallRuleset(network: nat, forwards: [forward, udp]).text
        #expect(text.contains("fib daddr type local udp dport 5353 dnat to 10.9.0.3:53"))
        #expect(text.contains("ip daddr != 127.0.0.0/8 fib daddr type local udp dport 5353 dnat to 10.9.0.3:53"))
        #expect(text.contains("oifname \"amber-web\" ip daddr 10.9.0.3 udp dport 53 ct status dnat accept"))
        #expect(text.hasPrefix("table ip amber_web\ndelete table ip amber_web\ntable ip amber_web {"))
        #expect(text.contains("ip saddr 10.9.0.0/24 ip daddr != 10.9.0.0/24 masquerade"))
        #expect(text.contains("fib daddr type local tcp dport 8080 dnat to 10.9.0.2:80"))
        let isolated = NetworkDefinition(name: "lab", bridge: "amber-lab", subnet: try .parse("10.9.0.0/24"), kind: .isolated)
        let closed = FirewallRuleset(network: isolated, forwards: []).text
        #expect(!closed.contains("masquerade") && closed.contains("iifname \"amber-lab\" drop"))
    }
}
