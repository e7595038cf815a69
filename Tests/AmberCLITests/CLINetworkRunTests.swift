import AmberTestSupport
import Foundation
import Testing

/// `amber run --net`, rollback, clone and rm with NICs, as a user runs them, inside a network namespace of the
/// test's own (root only): the tap on the network's bridge, the NIC in `amber ps --json`, the same MAC and
/// address after a rollback (on the NIC's other tap: the VM being replaced holds the first until the restored one
/// runs), a clone's NIC in a namespace of its own, and nothing left after `amber rm`.
@Suite("amber run --net", .serialized, .enabled(if: NetworkNamespace.available))
struct CLINetworkRunTests {
    struct NIC: Decodable {
        let network: String?
        let mac: String
        let tap: String
        let ipv4: String?
        let namespace: String?
        let publishedPorts: [String]
    }
    struct VM: Decodable {
        let name: String
        let networkInterfaces: [NIC]
    }

    static func nics(_ vm: String, _ namespace: NetworkNamespace, _ home: CLIHome) throws -> [NIC] {
        let listed = try namespace.amber(["ps", "--json"], home: home)
        let vms = try JSONDecoder().decode([VM].self, from: Data(listed.stdout.utf8))
        return try #require(vms.first { $0.name == vm }).networkInterfaces
    }

    static func master(of link: String, _ namespace: NetworkNamespace) throws -> String? {
        let shown = try namespace.exec(NetworkNamespace.ip, ["-j", "link", "show", "dev", link])
        guard shown.status == 0 else { return nil }
        let links = try JSONSerialization.jsonObject(with: Data(shown.stdout.utf8)) as? [[String: Any]]
        return links?.first?["master"] as? String ?? ""
    }

    @Test func aVMOnANetworkKeepsItsNICThroughRollbackAndReleasesItOnRemove() throws {
        let namespace = try NetworkNamespace()
        let home = try CLIHome()
        defer {
            _ = try? namespace.amber(["stop", "web1", "--timeout", "5"], home: home)
            _ = try? namespace.amber(["rm", "web1"], home: home)
            namespace.remove()
            home.remove()
        }
        #expect(try namespace.amber(["network", "create", "lab", "--subnet", "10.88.0.0/24"], home: home).status == 0)
        let kernel = try home.file("counter.bzImage", TinyBzImage.bytes(entryCode: TinyGuest.counter))
        let run = try namespace.amber(
            [
                "run", "web1", "--kernel", kernel, "--memory", "64M", "--detach", "--net", "lab", "--mac", "52:54:00:AA:BB:01",
                "--publish", "8080:80",
            ], home: home, timeout: 60)
        try #require(run.status == 0, "\(run.stderr)")
        let nic = try #require(try Self.nics("web1", namespace, home).first)
        #expect(nic.network == "lab" && nic.mac == "52:54:00:aa:bb:01" && nic.namespace == nil)
        #expect(nic.ipv4?.hasPrefix("10.88.0.") == true && nic.publishedPorts == ["8080:80/tcp"], "\(nic)")
        #expect(try Self.master(of: nic.tap, namespace) == "amber-lab")
        let inspected = try namespace.amber(["vm", "inspect", "web1"], home: home)
        #expect(
            inspected.stdout.contains(
                "nic 0: network lab, mac 52:54:00:aa:bb:01, tap \(nic.tap), address \(nic.ipv4 ?? "?"), published 8080:80/tcp"),
            "\(inspected.stdout)")
        let log = try String(contentsOf: home.root.appendingPathComponent("vms/web1/vmm.log"), encoding: .utf8)
        #expect(log.contains("1 NIC(s)"), "\(log)")

        let busy = try namespace.amber(["network", "rm", "lab"], home: home)
        #expect(busy.status != 0 && busy.stderr.contains("in use by VM web1"), "\(busy.stderr)")

        let snapshot = try namespace.amber(["snapshot", "take", "web1", "--label", "first"], home: home)
        try #require(snapshot.status == 0, "\(snapshot.stderr)")
        var taps = [nic.tap]
        for _ in 0..<2 {
            let rollback = try namespace.amber(["rollback", "web1", "--to", "first"], home: home)
            try #require(rollback.status == 0, "\(rollback.stderr)")
            let after = try #require(try Self.nics("web1", namespace, home).first)
            #expect(after.mac == nic.mac && after.ipv4 == nic.ipv4 && after.publishedPorts == nic.publishedPorts, "\(after)")
            #expect(after.tap != taps.last, "the restored VM is on the tap the replaced one held")
            #expect(try Self.master(of: after.tap, namespace) == "amber-lab")
            taps.append(after.tap)
        }
        #expect(taps[2] == taps[0], "the NIC alternates between its two taps: \(taps)")

        #expect(try namespace.amber(["stop", "web1"], home: home).status == 0)
        let removed = try namespace.amber(["rm", "web1"], home: home)
        #expect(removed.status == 0, "\(removed.stderr)")
        for tap in Set(taps) { #expect(try Self.master(of: tap, namespace) == nil, "tap \(tap) of a removed VM is left") }
        let dhcpHosts = try String(contentsOf: home.root.appendingPathComponent("networks/lab/dhcp-hosts"), encoding: .utf8)
        #expect(!dhcpHosts.contains(nic.mac), "\(dhcpHosts)")
        #expect(try namespace.amber(["network", "rm", "lab"], home: home).status == 0)
    }

    @Test func aCloneGetsItsOriginsMACInANamespaceOfItsOwn() throws {
        let namespace = try NetworkNamespace()
        let home = try CLIHome()
        defer {
            for vm in ["origin", "twin"] {
                _ = try? namespace.amber(["stop", vm, "--timeout", "5"], home: home)
                _ = try? namespace.amber(["rm", vm], home: home)
            }
            namespace.remove()
            home.remove()
        }
        #expect(try namespace.amber(["network", "create", "lab", "--subnet", "10.89.0.0/24"], home: home).status == 0)
        let kernel = try home.file("counter.bzImage", TinyBzImage.bytes(entryCode: TinyGuest.counter))
        let run = try namespace.amber(["run", "origin", "--kernel", kernel, "--memory", "64M", "--detach", "--net", "lab"], home: home)
        try #require(run.status == 0, "\(run.stderr)")
        let origin = try #require(try Self.nics("origin", namespace, home).first)
        let snapshot = try namespace.amber(["snapshot", "take", "origin", "--label", "warm"], home: home)
        try #require(snapshot.status == 0, "\(snapshot.stderr)")
        let clone = try namespace.amber(["clone", "warm", "--name", "twin", "--detach"], home: home)
        try #require(clone.status == 0, "\(clone.stderr)")
        let twin = try #require(try Self.nics("twin", namespace, home).first)
        #expect(twin.network == "clone" && twin.mac == origin.mac && twin.ipv4 == nil, "\(twin)")
        let path = try #require(twin.namespace)
        let namespaceName = URL(fileURLWithPath: path).lastPathComponent
        // The clone's tap is in its own namespace, not on the origin's bridge.
        #expect(try Self.master(of: twin.tap, namespace) == nil)
        // (amber made it inside `ip netns exec`, whose mount namespace holds /run/netns/NAME.)
        let inside = try namespace.exec(NetworkNamespace.ip, ["-n", namespaceName, "link", "show", "dev", twin.tap])
        #expect(inside.status == 0, "\(inside.stderr)")

        // A rollback of the clone: the same MAC, in the same namespace, on the NIC's other tap.
        let cloneSnapshot = try namespace.amber(["snapshot", "take", "twin", "--label", "twin-1"], home: home)
        try #require(cloneSnapshot.status == 0, "\(cloneSnapshot.stderr)")
        let rollback = try namespace.amber(["rollback", "twin", "--to", "twin-1"], home: home)
        try #require(rollback.status == 0, "\(rollback.stderr)")
        let rolledBack = try #require(try Self.nics("twin", namespace, home).first)
        #expect(rolledBack.mac == origin.mac && rolledBack.namespace == path && rolledBack.tap != twin.tap, "\(rolledBack)")

        #expect(try namespace.amber(["stop", "twin"], home: home).status == 0)
        #expect(try namespace.amber(["rm", "twin"], home: home).status == 0)
        let left = try namespace.exec("/usr/bin/test", ["-e", path])
        #expect(left.status != 0, "the clone's namespace \(path) is left")
    }

    @Test(
        arguments: [
            (["--net", "bridge:"], "bad --net \"bridge:\""),
            (["--net", "a:b"], "bad --net \"a:b\""),
            (["--net", "nosuch"], "no network named nosuch"),
            (["--net", "bridge:nosuchbr0"], "no bridge named nosuchbr0"),
            (["--net", "lab", "--mac", "zz:00"], "bad --mac \"zz:00\""),
            (["--net", "lab", "--mac", "01:00:5e:00:00:01"], "bad --mac \"01:00:5e:00:00:01\""),
            (["--net", "lab", "--publish", "80:99999"], "bad --publish 80:99999"),
            (["--net", "none", "--publish", "8080:80"], "--publish needs one of Amber's networks, not --net none"),
        ])
    func badNetworkInputIsRefusedAndLeavesNothing(arguments: [String], message: String) throws {
        let namespace = try NetworkNamespace()
        let home = try CLIHome()
        defer {
            namespace.remove()
            home.remove()
        }
        #expect(try namespace.amber(["network", "create", "lab", "--subnet", "10.87.0.0/24"], home: home).status == 0)
        let kernel = try home.file("counter.bzImage", TinyBzImage.bytes(entryCode: TinyGuest.counter))
        let run = try namespace.amber(["run", "vm1", "--kernel", kernel, "--memory", "64M", "--detach"] + arguments, home: home)
        #expect(run.status == 64, "\(run.status) \(run.stderr)")
        #expect(run.stderr.hasPrefix("error: \(message)") && run.stderr.split(separator: "\n").count == 1, "\(run.stderr)")
        let links = try namespace.exec(NetworkNamespace.ip, ["-br", "link"]).stdout
        #expect(!links.contains("amt"), "a tap is left: \(links)")
        let hosts = try String(contentsOf: home.root.appendingPathComponent("networks/lab/dhcp-hosts"), encoding: .utf8)
        #expect(hosts.isEmpty, "a lease is left: \(hosts)")
    }
}
