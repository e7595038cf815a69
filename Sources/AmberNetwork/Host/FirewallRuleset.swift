/// A network's nftables table as text for `nft -f -`. The text first makes the table (a no-op when it exists),
/// deletes it and makes it again whole: nft applies a file as one transaction, so the host goes from the old
/// rules to the new ones with no moment of half a table.
struct FirewallRuleset {
    /// A published port and the guest address it leads to.
    struct Forward {
        let port: PublishedPort
        let guest: IPv4Address
    }

    let network: NetworkDefinition
    let forwards: [Forward]

    var text: String {
        let table = "table ip \(network.tableName)"
        return [table, "delete \(table)", "\(table) {", forwardChain, postroutingChain, natChain("prerouting"), natChain("output"), "}"]
            .joined(separator: "\n") + "\n"
    }

    private var bridge: String { "\"\(network.bridge)\"" }

    /// Forwarding through the host: guests to each other always; for nat, guests out and replies back in, and
    /// the published ports in; nothing else into or out of the bridge. An isolated network forwards nothing
    /// beyond its bridge. The chain's policy is accept so traffic of other interfaces is not Amber's business.
    private var forwardChain: String {
        var rules = ["iifname \(bridge) oifname \(bridge) accept"]
        if network.kind == .nat {
            rules.append("iifname \(bridge) ip saddr \(network.subnet) accept")
            rules.append("oifname \(bridge) ct state established,related accept")
            for forward in forwards {
                rules.append(
                    "oifname \(bridge) ip daddr \(forward.guest) \(forward.port.transport.rawValue) dport \(forward.port.guestPort) ct status dnat accept"
                )
            }
        }
        rules.append("iifname \(bridge) drop")
        rules.append("oifname \(bridge) drop")
        return chain("forward", hook: "type filter hook forward priority filter", rules)
    }

    /// Guests' traffic to anywhere but their own subnet leaves with the host's address.
    private var postroutingChain: String {
        let rules = network.kind == .nat ? ["ip saddr \(network.subnet) ip daddr != \(network.subnet) masquerade"] : []
        return chain("postrouting", hook: "type nat hook postrouting priority srcnat", rules)
    }

    /// Published ports: connections to one of the host's own addresses on a published port go to the guest;
    /// `prerouting` for those from other machines, `output` for the host's own (not over loopback: a packet from
    /// 127.0.0.1 cannot be routed to a guest).
    private func natChain(_ hook: String) -> String {
        let loopback = hook == "output" ? "ip daddr != 127.0.0.0/8 " : ""
        let rules = forwards.map { forward in
            "\(loopback)fib daddr type local \(forward.port.transport.rawValue) dport \(forward.port.hostPort) dnat to \(forward.guest):\(forward.port.guestPort)"
        }
        // nft 1.0.6 knows `dstnat` as a priority name in prerouting only; -100 is its value.
        return chain(hook, hook: "type nat hook \(hook) priority -100", rules)
    }

    private func chain(_ name: String, hook: String, _ rules: [String]) -> String {
        (["\tchain \(name) {", "\t\t\(hook); policy accept;"] + rules.map { "\t\t" + $0 } + ["\t}"]).joined(separator: "\n")
    }
}
