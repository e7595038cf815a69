/// Everything amber-vmm needs to start one VM. The `amber` CLI writes it as JSON to
/// `<home>/vms/<name>/config.json` and starts `amber-vmm --config <that file>`.
public struct VMConfiguration: Codable, Sendable, Equatable {
    public var name: String
    public var kernelPath: String
    public var initrdPath: String?
    public var commandLine: String
    public var memoryBytes: UInt64
    public var vcpus: Int
    public var disks: [DiskConfiguration]
    /// The Unix socket amber-vmm listens on (mode 0600: only its owner can connect).
    public var controlSocketPath: String
    /// Where the serial console's output goes; nil attaches the console to amber-vmm's stdin/stdout.
    public var consoleLogPath: String?

    public init(name: String, kernelPath: String, initrdPath: String?, commandLine: String,
                memoryBytes: UInt64, vcpus: Int, disks: [DiskConfiguration],
                controlSocketPath: String, consoleLogPath: String?) {
        self.name = name
        self.kernelPath = kernelPath
        self.initrdPath = initrdPath
        self.commandLine = commandLine
        self.memoryBytes = memoryBytes
        self.vcpus = vcpus
        self.disks = disks
        self.controlSocketPath = controlSocketPath
        self.consoleLogPath = consoleLogPath
    }
}

public struct DiskConfiguration: Codable, Sendable, Equatable {
    public var path: String
    public var readOnly: Bool

    public init(path: String, readOnly: Bool) {
        self.path = path
        self.readOnly = readOnly
    }
}
