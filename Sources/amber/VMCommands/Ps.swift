import AmberCommandLine
import AmberCore
import ArgumentParser
import Foundation

/// `amber vm ls`, also spelled `amber vm ps`.
struct VMList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List VMs: running ones with their live status, and stopped ones (kept with their logs).",
        aliases: ["ps"])

    struct Options: ParsableArguments {
        @OptionGroup var home: HomeOption

        @Flag(help: "Print a JSON array of {name, state, pid, vcpus, memoryBytes, uptimeSeconds, networkInterfaces}.")
        var json = false
    }

    @OptionGroup var options: Options

    func run() throws {
        try Self.run(options)
    }

    static func run(_ options: Options) throws {
        let vms = VMManager(home: options.home.resolved).list()
        if options.json { return try printJSON(vms) }
        let rows =
            [["NAME", "STATE", "PID", "VCPUS", "MEMORY", "UPTIME", "NETWORK"]]
            + vms.map { vm in
                [
                    vm.name, vm.state.rawValue, vm.pid.map(String.init) ?? "-", vm.vcpus.map(String.init) ?? "-",
                    vm.memoryBytes.map(ByteFormat.string) ?? "-", vm.uptimeSeconds.map(Self.duration) ?? "-",
                    Self.network(vm.networkInterfaces),
                ]
            }
        TextTable.print(rows)
    }

    /// `default 10.213.0.2`, `clone (own namespace)`, `bridge:br0`, or `-` without a NIC.
    static func network(_ nics: [NICSummary]) -> String {
        guard !nics.isEmpty else { return "-" }
        return nics.map { nic in
            let network = nic.network ?? "tap \(nic.tap)"
            if nic.namespace != nil { return "\(network) (own namespace)" }
            return ([network, nic.ipv4].compactMap { $0 } + nic.publishedPorts).joined(separator: " ")
        }.joined(separator: ", ")
    }

    static func duration(_ seconds: Double) -> String {
        let total = Int(seconds)
        let (hours, minutes, secs) = (total / 3600, total / 60 % 60, total % 60)
        if hours > 0 { return "\(hours)h\(String(format: "%02d", minutes))m" }
        if minutes > 0 { return "\(minutes)m\(String(format: "%02d", secs))s" }
        return "\(secs)s"
    }
}

/// `amber ps`: the short spelling of `amber vm ls`.
struct Ps: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ps", abstract: "List VMs (alias of `amber vm ls`).")

    @OptionGroup var options: VMList.Options

    func run() throws {
        try VMList.run(options)
    }
}
