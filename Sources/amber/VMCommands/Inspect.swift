import AmberCommandLine
import AmberCore
import ArgumentParser
import Foundation

/// `amber vm inspect NAME`: one VM as `amber ps` knows it, with each NIC in full.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect", abstract: "Show one VM: its state, size and NICs (network, MAC, tap, address, published ports).")

    @OptionGroup var home: HomeOption
    @Argument(help: "VM name.") var name: String
    @Flag(help: "Print the VM as JSON (the object `amber ps --json` lists).") var json = false

    func run() throws {
        let vm = try VMManager(home: home.resolved).inspect(name)
        if json { return try printJSON(vm) }
        print("name: \(vm.name)")
        print("state: \(vm.state.rawValue)")
        if let pid = vm.pid { print("pid: \(pid)") }
        if let vcpus = vm.vcpus { print("vcpus: \(vcpus)") }
        if let memory = vm.memoryBytes { print("memory: \(ByteFormat.string(memory))") }
        if let uptime = vm.uptimeSeconds { print("uptime: \(VMList.duration(uptime))") }
        for (index, nic) in vm.networkInterfaces.enumerated() {
            let placement = nic.namespace.map { "namespace \($0)" } ?? nic.ipv4.map { "address \($0)" } ?? "address from the bridge's DHCP"
            let ports = nic.publishedPorts.isEmpty ? "" : ", published \(nic.publishedPorts.joined(separator: " "))"
            print("nic \(index): network \(nic.network ?? "-"), mac \(nic.mac), tap \(nic.tap), \(placement)\(ports)")
        }
        if vm.networkInterfaces.isEmpty { print("nics: none") }
    }
}
