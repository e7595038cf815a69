import AmberNetwork
import AmberTestSupport
import Foundation
import Testing

/// `amber network` as a user runs it, inside a network namespace of the test's own (root only): the real bridge,
/// nftables table and dnsmasq after `create`, nothing of them after `rm`, and every bad input refused with one
/// line and nothing left behind.
@Suite("amber network", .enabled(if: NetworkNamespace.available))
struct NetworkCommandTests {
    @Test func createListInspectRemove() throws {
        let namespace = try NetworkNamespace()
        let home = try CLIHome()
        defer {
            namespace.remove()
            home.remove()
        }
        let created = try namespace.amber(["network", "create", "web", "--subnet", "10.70.0.0/24"], home: home)
        #expect(created.status == 0, "\(created.stderr)")
        #expect(created.stdout == "created network web: bridge amber-web, subnet 10.70.0.0/24, gateway 10.70.0.1, nat\n")

        // The bridge, with the gateway address, up.
        let link = try namespace.exec(NetworkNamespace.ip, ["-j", "addr", "show", "dev", "amber-web"])
        let links = try JSONSerialization.jsonObject(with: Data(link.stdout.utf8)) as? [[String: Any]]
        let addresses = (links?.first?["addr_info"] as? [[String: Any]] ?? []).compactMap { info in
            (info["local"] as? String).map { "\($0)/\(info["prefixlen"] ?? "")" }
        }
        #expect(addresses.contains("10.70.0.1/24"), "\(link.stdout)")
        #expect((links?.first?["flags"] as? [String])?.contains("UP") == true)
        let details = try namespace.exec(NetworkNamespace.ip, ["-d", "-j", "link", "show", "dev", "amber-web"]).stdout
        #expect(details.contains("\"info_kind\":\"bridge\""), "\(details)")
        // The table, with masquerading for the subnet.
        let table = try namespace.exec("/usr/sbin/nft", ["-j", "list", "table", "ip", "amber_web"])
        #expect(table.status == 0 && table.stdout.contains("masquerade"), "\(table.stdout)")
        // dnsmasq, answering DNS on the gateway and DHCP on the bridge alone.
        let sockets = try namespace.exec("/usr/bin/ss", ["-H", "-lunp"]).stdout
        #expect(sockets.contains("10.70.0.1:53") && sockets.contains("dnsmasq"), "\(sockets)")
        #expect(sockets.contains("%amber-web:67"), "\(sockets)")

        let list = try namespace.amber(["network", "ls", "--json"], home: home)
        let entries = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]]
        #expect(entries?.count == 1 && entries?.first?["dnsmasqRunning"] as? Bool == true, "\(list.stdout)")
        #expect(entries?.first?["subnet"] as? String == "10.70.0.0/24" && entries?.first?["kind"] as? String == "nat")
        let text = try namespace.amber(["network", "ls"], home: home).stdout
        #expect(text.contains("web   amber-web  10.70.0.0/24  nat   -    running"), "\(text)")
        let inspect = try namespace.amber(["network", "inspect", "web", "--json"], home: home)
        #expect(inspect.status == 0 && inspect.stdout.contains("\"attachments\" : ["), "\(inspect.stdout)")

        let isolated = try namespace.amber(
            ["network", "create", "lab", "--subnet", "10.71.0.0/28", "--isolated", "--bridge", "br-lab"], home: home)
        #expect(isolated.status == 0, "\(isolated.stderr)")
        let closed = try namespace.exec("/usr/sbin/nft", ["list", "table", "ip", "amber_lab"]).stdout
        #expect(!closed.contains("masquerade") && closed.contains("iifname \"br-lab\" drop"), "\(closed)")

        for name in ["web", "lab"] {
            let removed = try namespace.amber(["network", "rm", name], home: home)
            #expect(removed.status == 0 && removed.stdout == "removed network \(name)\n", "\(removed.stderr)")
        }
        #expect(try namespace.exec(NetworkNamespace.ip, ["link", "show", "dev", "amber-web"]).status != 0)
        #expect(try namespace.exec("/usr/sbin/nft", ["list", "tables"]).stdout.isEmpty)
        #expect(try !namespace.exec("/usr/bin/ss", ["-H", "-lunp"]).stdout.contains("dnsmasq"))
        #expect(try namespace.amber(["network", "ls", "--json"], home: home).stdout == "[]\n")
    }

    @Test(
        "bad input: one line, the documented code, nothing made",
        arguments: [
            (["create", "x", "--subnet", "10.72.0.0"], Int32(64), "bad subnet 10.72.0.0: it is not an IPv4 subnet in CIDR form"),
            (["create", "x", "--subnet", "10.72.0.1/24"], 64, "host bits are set: did you mean 10.72.0.0/24?"),
            (["create", "x", "--subnet", "10.72.0.0/30"], 64, "a network's prefix must be /8 to /29"),
            (["create", "X_1", "--subnet", "10.72.0.0/24"], 64, "bad network name \"X_1\""),
            (["create", "production", "--subnet", "10.72.0.0/24"], 64, "bridge name amber-production is longer than 15 characters"),
            (["create", "x", "--subnet", "10.72.0.0/24", "--bridge", "a-very-long-bridge"], 64, "longer than 15 characters"),
            (["create", "web", "--subnet", "10.72.0.0/24"], 65, "a network named web already exists"),
            (["create", "x", "--subnet", "10.73.0.0/16"], 65, "subnet 10.73.0.0/16 overlaps 10.73.1.0/24 of network web"),
            (["create", "x", "--subnet", "192.168.77.0/24"], 65, "overlaps address 192.168.77.1/24 of busy0 on this host"),
            (["create", "x", "--subnet", "10.74.0.0/24", "--bridge", "busy0"], 65, "a network interface named busy0 already exists"),
            (["rm", "nosuch"], 64, "no network named nosuch"),
            (["inspect", "nosuch"], 64, "no network named nosuch"),
        ])
    func badInput(arguments: [String], code: Int32, message: String) throws {
        let namespace = try NetworkNamespace()
        let home = try CLIHome()
        defer {
            namespace.remove()
            home.remove()
        }
        #expect(try namespace.amber(["network", "create", "web", "--subnet", "10.73.1.0/24"], home: home).status == 0)
        #expect(try namespace.exec(NetworkNamespace.ip, ["link", "add", "busy0", "type", "bridge"]).status == 0)
        #expect(try namespace.exec(NetworkNamespace.ip, ["addr", "add", "192.168.77.1/24", "dev", "busy0"]).status == 0)
        let before = try Self.hostState(namespace, home)

        let result = try namespace.amber(["network"] + arguments, home: home)
        #expect(result.status == code, "\(arguments): \(result.stderr)")
        #expect(result.stderr.hasPrefix("error: ") && result.stderr.contains(message), "\(arguments): \(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(try Self.hostState(namespace, home) == before, "\(arguments) changed the host")
        _ = try namespace.amber(["network", "rm", "web"], home: home)
    }

    @Test func removingANetworkInUseIsRefused() throws {
        let namespace = try NetworkNamespace()
        let home = try CLIHome()
        defer {
            namespace.remove()
            home.remove()
        }
        #expect(try namespace.amber(["network", "create", "web", "--subnet", "10.75.0.0/24"], home: home).status == 0)
        let networks = Networks(directory: home.root.appendingPathComponent("networks").path)
        let attachment = try namespace.perform { try networks.attach(vm: "web1", network: "web", mac: "52:54:00:00:00:01", ownerUID: 0) }
        let refused = try namespace.amber(["network", "rm", "web"], home: home)
        #expect(refused.status == 65)
        #expect(refused.stderr == "error: network web is in use by VM web1: remove or stop it first\n")
        #expect(try namespace.exec(NetworkNamespace.ip, ["link", "show", "dev", attachment.tap]).status == 0)
        let shown = try namespace.amber(["network", "inspect", "web"], home: home).stdout
        #expect(shown.contains("web1  0    52:54:00:00:00:01  10.75.0.2  \(attachment.tap)  -"), "\(shown)")
        try namespace.perform { try networks.detach(vm: "web1") }
        #expect(try namespace.amber(["network", "rm", "web"], home: home).status == 0)
    }

    /// Without CAP_NET_ADMIN (a user other than root) creating is refused, saying what to do.
    @Test func creatingNeedsNetworkAdmin() throws {
        let namespace = try NetworkNamespace()
        let home = try CLIHome()
        defer {
            namespace.remove()
            home.remove()
        }
        let result = try namespace.exec(
            "/usr/bin/setpriv",
            [
                "--reuid=65534", "--regid=65534", "--clear-groups", AmberBinary.path, "network", "create", "web", "--subnet",
                "10.76.0.0/24", "--home", home.root.path,
            ])
        #expect(result.status == 65, "\(result.stderr)")
        #expect(
            result.stderr.hasPrefix(
                "error: creating network web needs CAP_NET_ADMIN: run amber as root, or run the VM without a network (`--net none`)"),
            "\(result.stderr)")
        #expect(try namespace.exec(NetworkNamespace.ip, ["link", "show", "dev", "amber-web"]).status != 0)
    }

    /// Links, tables and the networks' files: what a refused command must leave as it was.
    static func hostState(_ namespace: NetworkNamespace, _ home: CLIHome) throws -> [String] {
        let links = try namespace.exec(NetworkNamespace.ip, ["-br", "link"]).stdout
        let tables = try namespace.exec("/usr/sbin/nft", ["list", "tables"]).stdout
        return [links, tables] + home.contents()
    }
}
