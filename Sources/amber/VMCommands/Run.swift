import AmberCommandLine
import AmberCore
import AmberPolicy
import ArgumentParser
import Foundation

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Boot a VM: in the foreground with its serial console on this terminal, or with --detach.",
        discussion: """
            Without --detach, amber-vmm runs attached to this terminal and `amber run` exits with its exit code \
            (0 when the guest powered off or rebooted, 1 when it crashed, 2 for a bad configuration). \
            SIGINT, SIGTERM and SIGHUP sent to `amber run` are passed on to amber-vmm. With --detach, the console goes to \
            <home>/vms/NAME/console.log (see `amber logs`, `amber console`) and amber-vmm's own messages to vmm.log.
            """)

    @OptionGroup var home: HomeOption

    @Argument(help: "VM name: 1-64 characters from A-Z a-z 0-9 . _ -, starting with a letter or digit.")
    var name: String

    @Option(help: "Linux kernel (bzImage).")
    var kernel: String

    @Option(help: "Initial ramdisk.")
    var initrd: String?

    @Option(name: .customLong("disk"), help: "Raw disk image, PATH or PATH:ro; repeat for more disks (vda, vdb, ...).")
    var disks: [String] = []

    @Option(help: ArgumentHelp("Guest memory: \(ByteSize.acceptedForms). At least 64M."))
    var memory: String = "512M"

    @Option(help: "Number of vCPUs.")
    var vcpus: Int = 1

    @Option(help: "Kernel command line (default: \"\(RunRequest.defaultCommandLine)\").")
    var cmdline: String?

    @Option(
        help: ArgumentHelp(
            "The NIC's network: none, default (made on first use: DHCP, DNS, NAT), isolated, bridge:NAME (a bridge of your own) or a network from `amber network create` (default: $AMBER_NET, else default).",
            valueName: "network"))
    var net: String?

    @Option(help: ArgumentHelp("The NIC's MAC address (default: the VM's previous one, else a random one).", valueName: "mac"))
    var mac: String?

    @Option(
        help: ArgumentHelp(
            "Publish guest port GUEST on host port HOST, tcp unless /udp; repeat for more.", valueName: "host:guest[/udp]"))
    var publish: [String] = []

    @Flag(help: "Start in the background and return once the VM runs.")
    var detach = false

    @Flag(help: "Print the result as JSON (without --detach: once the VM has stopped, with its exit code).")
    var json = false

    func run() throws {
        var request = RunRequest(
            name: name, kernel: kernel, initrd: initrd, disks: disks, memory: memory,
            vcpus: vcpus, commandLine: cmdline)
        request.network = try net.map(NetworkChoice.parse)
        request.macAddress = mac
        request.publish = publish
        let launcher = VMLauncher(home: home.resolved)
        if detach {
            let pid = try launcher.runDetached(request)
            if json { return try printJSON(VMChange(vm: name, state: "running", pid: pid)) }
            print("\(name) running (pid \(pid))")
            return
        }
        try VMExit.report(vm: name, try launcher.runInForeground(request), json: json)
    }
}
