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
    /// The VM's NICs, attached after its disks in this order (a restore finds them where the snapshot had
    /// them only in the same order). Missing in a file written before NICs existed: none.
    public var networkInterfaces: [NetworkInterfaceConfiguration]
    /// The Unix socket amber-vmm listens on (mode 0600: only its owner can connect).
    public var controlSocketPath: String
    /// Where the serial console's output goes; nil attaches the console to amber-vmm's stdin/stdout.
    public var consoleLogPath: String?
    /// Set when the VM continues from a snapshot (rollback or clone) instead of booting its kernel.
    public var restore: RestoreSource?
    /// How long a snapshot may keep the guest paused before amber-vmm resumes it and abandons the snapshot
    /// (nil: `defaultSnapshotPauseLimit`).
    public var snapshotPauseLimitSeconds: Double?
    public static let defaultSnapshotPauseLimit = 5.0

    public init(
        name: String, kernelPath: String, initrdPath: String?, commandLine: String,
        memoryBytes: UInt64, vcpus: Int, disks: [DiskConfiguration],
        controlSocketPath: String, consoleLogPath: String?, restore: RestoreSource? = nil,
        networkInterfaces: [NetworkInterfaceConfiguration] = []
    ) {
        self.name = name
        self.kernelPath = kernelPath
        self.initrdPath = initrdPath
        self.commandLine = commandLine
        self.memoryBytes = memoryBytes
        self.vcpus = vcpus
        self.disks = disks
        self.controlSocketPath = controlSocketPath
        self.consoleLogPath = consoleLogPath
        self.restore = restore
        self.networkInterfaces = networkInterfaces
    }

    // Decoded by hand only so that a missing `networkInterfaces` means none.
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        kernelPath = try container.decode(String.self, forKey: .kernelPath)
        initrdPath = try container.decodeIfPresent(String.self, forKey: .initrdPath)
        commandLine = try container.decode(String.self, forKey: .commandLine)
        memoryBytes = try container.decode(UInt64.self, forKey: .memoryBytes)
        vcpus = try container.decode(Int.self, forKey: .vcpus)
        disks = try container.decode([DiskConfiguration].self, forKey: .disks)
        networkInterfaces = try container.decodeIfPresent([NetworkInterfaceConfiguration].self, forKey: .networkInterfaces) ?? []
        controlSocketPath = try container.decode(String.self, forKey: .controlSocketPath)
        consoleLogPath = try container.decodeIfPresent(String.self, forKey: .consoleLogPath)
        restore = try container.decodeIfPresent(RestoreSource.self, forKey: .restore)
        snapshotPauseLimitSeconds = try container.decodeIfPresent(Double.self, forKey: .snapshotPauseLimitSeconds)
    }
}

/// One virtio-net NIC: the tap device it is attached to (it must exist when amber-vmm starts) and the MAC
/// address the guest sees.
public struct NetworkInterfaceConfiguration: Codable, Sendable, Equatable {
    /// 1 to 15 characters of [A-Za-z0-9_.-].
    public var tapName: String
    /// Six lowercase hex pairs, "52:54:00:ab:cd:ef"; unicast (see `MACAddress`).
    public var macAddress: String
    /// Nil: the tap is in amber-vmm's own network namespace. Otherwise a network namespace file (such as
    /// /run/netns/NAME) that amber-vmm enters, on a thread of its own, to open the tap (a clone's tap lives in
    /// a namespace of its own).
    public var networkNamespacePath: String?
    /// What `amber run --net` attached the NIC to (`default`, a network's name, `bridge:NAME`, or `clone` for a
    /// clone's namespace of its own), so a rollback reattaches it there; amber-vmm does not read it.
    public var network: String?

    public init(tapName: String, macAddress: String, networkNamespacePath: String? = nil, network: String? = nil) {
        self.tapName = tapName
        self.macAddress = macAddress
        self.networkNamespacePath = networkNamespacePath
        self.network = network
    }
}

/// Where a VM that continues from a snapshot finds it, already taken out of the store.
public struct RestoreSource: Codable, Sendable, Equatable {
    /// The snapshot the VM continues from; while the VM exists the snapshot is in use (never pruned).
    public var snapshotID: String
    /// The encoded `MachineState`.
    public var statePath: String
    /// The snapshot's guest memory, materialized once and shared by every VM restored from it: it is
    /// mapped copy-on-write and never written.
    public var memoryPath: String

    public init(snapshotID: String, statePath: String, memoryPath: String) {
        self.snapshotID = snapshotID
        self.statePath = statePath
        self.memoryPath = memoryPath
    }
}

public struct DiskConfiguration: Codable, Sendable, Equatable {
    public var path: String
    public var readOnly: Bool
    /// Set for a copy-on-write disk: `path` is then only ever read (the user's base file or a
    /// snapshot's disk) and the VM's writes go to this overlay, created empty when missing.
    public var overlayPath: String?

    public init(path: String, readOnly: Bool, overlayPath: String? = nil) {
        self.path = path
        self.readOnly = readOnly
        self.overlayPath = overlayPath
    }
}
