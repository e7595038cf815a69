/// What the user asked `amber run` for, as typed; `VMLaunchPlan` checks it.
public struct RunRequest: Sendable {
    public var name: String
    public var kernel: String
    public var initrd: String?
    /// Each `PATH` or `PATH:ro` (`PATH:rw` is accepted too).
    public var disks: [String]
    public var memory: String
    public var vcpus: Int
    public var commandLine: String?
    /// `--net`; nil: `NetworkChoice.standard()`.
    public var network: NetworkChoice?
    /// `--mac`; nil: the VM's previous MAC, or a random one.
    public var macAddress: String?
    /// Each `--publish HOST:GUEST[/tcp|/udp]`.
    public var publish: [String] = []

    /// The test guest's command line (docs/KVM.md): serial console, reboot through the keyboard
    /// controller, reboot on panic, no PCI probing.
    public static let defaultCommandLine = "console=ttyS0 reboot=k panic=1 pci=off"

    public init(
        name: String, kernel: String, initrd: String?, disks: [String], memory: String,
        vcpus: Int, commandLine: String?
    ) {
        self.name = name
        self.kernel = kernel
        self.initrd = initrd
        self.disks = disks
        self.memory = memory
        self.vcpus = vcpus
        self.commandLine = commandLine
    }
}
