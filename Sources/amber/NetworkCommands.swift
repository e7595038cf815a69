import AmberCommandLine
import AmberCore
import AmberNetwork
import ArgumentParser

/// `amber network ls|create|rm|inspect`: Amber's networks (a bridge, an nftables table and a dnsmasq each).
struct NetworkCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "network",
        abstract: "List, create and remove Amber's networks (a bridge, nftables rules and dnsmasq for DHCP and DNS each).",
        discussion: """
            Creating or removing a network, and running a VM on one, changes the host's network and needs \
            CAP_NET_ADMIN (root). The `default` network is made on first use. README.md ("Networking") says what \
            Amber changes on the host and how `amber network rm` undoes it.
            """,
        subcommands: [ListNetworks.self, CreateNetwork.self, RemoveNetwork.self, InspectNetwork.self])
}

struct ListNetworks: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List networks.")

    @OptionGroup var home: HomeOption
    @Flag(help: "Print a JSON array of {name, bridge, subnet, gateway, kind, vms, bridgePresent, dnsmasqRunning}.")
    var json = false

    func run() throws {
        let networks = try home.resolved.networks.list()
        if json { return try printJSON(networks) }
        guard !networks.isEmpty else {
            return print("no networks; `amber run` makes the default one, or `amber network create NAME --subnet CIDR`")
        }
        TextTable.print(
            [["NAME", "BRIDGE", "SUBNET", "KIND", "VMS", "DNSMASQ"]]
                + networks.map { network in
                    [
                        network.name, network.bridge + (network.bridgePresent ? "" : " (absent)"), "\(network.subnet)",
                        network.kind.rawValue, network.vms.isEmpty ? "-" : network.vms.joined(separator: ","),
                        network.dnsmasqRunning ? "running" : "stopped",
                    ]
                })
    }
}

struct CreateNetwork: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Create a network: a bridge with the subnet's first address, nftables rules and dnsmasq (needs root).")

    @OptionGroup var home: HomeOption
    @Argument(help: "The network's name: a lowercase letter, then lowercase letters, digits and -.") var name: String
    @Option(
        help:
            "Its IPv4 subnet in CIDR form, /8 to /29 (e.g. 10.50.0.0/24); it must overlap no other network's and no address or route of the host."
    )
    var subnet: String
    @Flag(help: "Guests reach each other and the host only: no forwarding beyond, no published ports.") var isolated = false
    @Option(help: "The bridge's name (at most 15 characters; default amber-NAME).") var bridge: String?
    @Flag(help: "Print the network as JSON.") var json = false

    func run() throws {
        let networks = home.resolved.networks
        let created = try networks.create(
            name: name, subnet: try IPv4Subnet.parse(subnet), kind: isolated ? .isolated : .nat, bridge: bridge)
        if json { return try printJSON(try networks.inspect(created.name)) }
        print(
            "created network \(created.name): bridge \(created.bridge), subnet \(created.subnet), gateway \(created.gateway), \(created.kind.rawValue)"
        )
    }
}

struct RemoveNetwork: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Remove a network: its dnsmasq, nftables table, bridge and files (needs root).")

    @OptionGroup var home: HomeOption
    @Argument(help: "The network's name.") var name: String
    @Flag(help: "Print the result as JSON.") var json = false

    func run() throws {
        try home.resolved.networks.remove(name)
        if json { return try printJSON(NetworkChange(network: name, action: "removed")) }
        print("removed network \(name)")
    }
}

struct InspectNetwork: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Show a network and every NIC on it (address, MAC, tap, published ports).")

    @OptionGroup var home: HomeOption
    @Argument(help: "The network's name.") var name: String
    @Flag(help: "Print the network as JSON (the default is text).") var json = false

    func run() throws {
        let network = try home.resolved.networks.inspect(name)
        if json { return try printJSON(network) }
        print("network \(network.name): \(network.kind.rawValue), subnet \(network.subnet), gateway \(network.gateway)")
        print(
            "bridge \(network.bridge) \(network.bridgePresent ? "present" : "absent"), dnsmasq \(network.dnsmasqRunning ? "running" : "stopped")"
        )
        let nics = network.attachments ?? []
        guard !nics.isEmpty else { return print("no VMs attached") }
        TextTable.print(
            [["VM", "NIC", "MAC", "ADDRESS", "TAP", "PUBLISHED"]]
                + nics.map { nic in
                    [
                        nic.vm, String(nic.nic), nic.mac, "\(nic.ipv4)", nic.tap,
                        nic.publishedPorts.isEmpty ? "-" : nic.publishedPorts.map(\.description).joined(separator: ","),
                    ]
                })
    }
}

/// `network rm --json`.
struct NetworkChange: Encodable {
    let network: String
    let action: String
}
