import Foundation

/// A network's nftables table on the host, and the IPv4 forwarding switch a nat network needs.
enum Firewall {
    static func apply(_ ruleset: FirewallRuleset) throws(NetworkError) {
        try HostCommand.run(.nft, ["-f", "-"], input: ruleset.text)
    }

    static func exists(table: String) -> Bool {
        (try? HostCommand.output(.nft, ["list", "table", "ip", table]))?.succeeded ?? false
    }

    /// Deletes the table if it is there; best effort, for undoing and removing.
    static func remove(table: String) {
        guard exists(table: table) else { return }
        _ = try? HostCommand.output(.nft, ["delete", "table", "ip", table])
    }

    static let forwardingSwitch = "/proc/sys/net/ipv4/ip_forward"

    /// Turns on IPv4 forwarding (this network namespace's), without which a nat network's guests reach nothing
    /// beyond the host. It is left on when the network goes: other software may rely on it by then.
    static func enableForwarding() throws(NetworkError) {
        if (try? String(contentsOfFile: forwardingSwitch, encoding: .utf8))?.hasPrefix("1") == true { return }
        do {
            try Data("1\n".utf8).write(to: URL(fileURLWithPath: forwardingSwitch))
        } catch {
            throw .io(path: forwardingSwitch, cause: .init(error))
        }
    }
}
