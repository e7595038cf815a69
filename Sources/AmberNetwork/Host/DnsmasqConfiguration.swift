/// dnsmasq's configuration for one network: DHCP and DNS on the bridge's gateway address and nowhere else.
struct DnsmasqConfiguration {
    let network: NetworkDefinition
    let files: NetworkFiles

    var text: String {
        var lines = [
            "# Written by Amber for network \(network.name); replaced whenever the network is started.",
            // Answer on the bridge alone, bound to its address: never on the host's other interfaces, and beside
            // any other DNS server of the host (it binds the gateway only, not the wildcard address).
            "interface=\(network.bridge)",
            "except-interface=lo",
            "listen-address=\(network.gateway)",
            "bind-interfaces",
            // No /etc/hosts and no /etc/dnsmasq.d: what this host names for itself is not the guests' business.
            "no-hosts",
            "domain-needed",
            "bogus-priv",
            // Static leases only: a NIC gets the address Amber chose for its MAC (kept across restarts and
            // rollbacks); a MAC Amber does not know gets none, so no dynamic lease can take an address Amber
            // hands out later.
            "dhcp-range=\(network.subnet.base),static,\(network.subnet.mask),infinite",
            "dhcp-hostsfile=\(files.dhcpHosts)",
            "dhcp-leasefile=\(files.leases)",
            "dhcp-authoritative",
            "pid-file=\(files.pid)",
            // The home is owner-only, and dnsmasq re-reads the hosts file there on every SIGHUP: it cannot drop
            // to `nobody` as it otherwise would.
            "user=root",
        ]
        if network.kind == .isolated {
            // No default route: an isolated network leads nowhere beyond the host.
            lines.append("dhcp-option=option:router")
            // No forwarding of DNS queries either: only local names resolve.
            lines.append("no-resolv")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
