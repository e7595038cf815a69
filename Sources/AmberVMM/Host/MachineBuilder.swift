import AmberBoot
import AmberControl
import AmberDisk
import AmberKVM
import AmberMachineState
import AmberSystem
import AmberVirtio
import Glibc

/// A VM built from a `VMConfiguration` and not yet running: the machine (booted from a kernel, or
/// continued from a snapshot's state and memory), its virtio disks and their overlays' committers, and its
/// virtio NICs (after the disks, in the configuration's order).
struct BuiltMachine {
    static let maximumDisks = 16
    /// One IOAPIC input per virtio device, from `GuestMemoryLayout.virtioFirstGSI` up.
    static let maximumVirtioDevices = Int(ACPITables.ioAPICInputs - GuestMemoryLayout.virtioFirstGSI)

    let machine: Machine
    /// Each disk as configured and as attached, in attachment order.
    let disks: [(configured: DiskConfiguration, device: VirtioBlockDevice)]
    /// Each NIC as configured and as attached, in attachment order.
    let networkInterfaces: [(configured: NetworkInterfaceConfiguration, device: VirtioNetDevice)]
    let virtioDevices: [VirtioDeviceAttachment]
    /// One per writable overlay: its map is committed within a second of a write, even without a FLUSH.
    let mapCommitters: [OverlayMapCommitter]

    /// Builds the machine and loads the kernel, or, for a VM that continues from a snapshot, builds
    /// it from the snapshot's state and memory; nothing runs yet. Bad input (kernel, initrd, disks,
    /// sizes) throws `ConfigurationError`; KVM failures and unusable snapshots throw their own errors.
    /// - preparedRestore: the restore's VM, already being built (see `RestorePreparation`); it must be the
    ///   restore the configuration describes.
    init(
        _ configuration: VMConfiguration, serialOutput: @escaping @Sendable ([UInt8]) -> Void,
        log: @escaping (String) -> Void, preparedRestore: PendingRestore?
    ) throws {
        guard configuration.disks.count <= Self.maximumDisks else {
            throw ConfigurationError("\(configuration.disks.count) disks is too many: attach at most \(Self.maximumDisks)")
        }
        let deviceCount = configuration.disks.count + configuration.networkInterfaces.count
        guard deviceCount <= Self.maximumVirtioDevices else {
            throw ConfigurationError(
                "\(configuration.disks.count) disks and \(configuration.networkInterfaces.count) NICs are too many: the IOAPIC has inputs for \(Self.maximumVirtioDevices) virtio devices"
            )
        }
        // NICs take the slots after the disks: a restore finds each device at the snapshot's address as long
        // as the VM keeps its disks and NICs in order.
        let slots = (0..<(configuration.disks.count + configuration.networkInterfaces.count)).map {
            GuestMemoryLayout.virtioMMIODevice(index: $0)
        }
        // Opened before anything is built: a missing tap is bad input that fails at once.
        let taps = try configuration.networkInterfaces.map { try Self.openTap($0) }
        let machineConfiguration = MachineConfiguration(
            name: configuration.name, memoryBytes: configuration.memoryBytes,
            vcpuCount: configuration.vcpus, serialOutput: serialOutput)
        let restoredState: MachineState?
        if configuration.restore == nil, let preparedRestore {
            _ = try? preparedRestore.wait()
            throw ConfigurationError(
                "amber-vmm was started to restore \(preparedRestore.preparation.memoryPath), but its configuration boots a kernel")
        }
        if let restore = configuration.restore {
            (machine, restoredState) = try Self.restoredMachine(
                restore, configuration: machineConfiguration,
                preparedEarly: preparedRestore)
        } else {
            machine = try Self.bootedMachine(configuration, machineConfiguration, virtioSlots: slots)
            restoredState = nil
        }
        var disks: [(configured: DiskConfiguration, device: VirtioBlockDevice)] = []
        var virtioDevices: [VirtioDeviceAttachment] = []
        var mapCommitters: [OverlayMapCommitter] = []
        for (disk, slot) in zip(configuration.disks, slots.prefix(configuration.disks.count)) {
            let (device, attachment) = try Self.attachDisk(disk, at: slot, to: machine)
            disks.append((disk, device))
            virtioDevices.append(attachment)
            if let overlay = device.backend as? OverlayDisk, !overlay.readOnly {
                mapCommitters.append(try OverlayMapCommitter(overlay: overlay, log: log))
            }
        }
        var networkInterfaces: [(configured: NetworkInterfaceConfiguration, device: VirtioNetDevice)] = []
        for ((interface, tap), slot) in zip(zip(configuration.networkInterfaces, taps), slots.dropFirst(configuration.disks.count)) {
            let device = try VirtioNetDevice(tap: tap, macAddress: MACAddress(interface.macAddress)?.bytes ?? [])
            virtioDevices.append(try Self.attachNetwork(device, at: slot, to: machine))
            networkInterfaces.append((interface, device))
        }
        self.disks = disks
        self.networkInterfaces = networkInterfaces
        self.virtioDevices = virtioDevices
        self.mapCommitters = mapCommitters
        if let restoredState {
            try machine.restoreVirtioDevices(restoredState.virtioDevices, onto: virtioDevices)
        }
    }

    private static func bootedMachine(
        _ configuration: VMConfiguration, _ machineConfiguration: MachineConfiguration,
        virtioSlots: [VirtioMMIODeviceSlot]
    ) throws -> Machine {
        let memory = try GuestRAM(regions: GuestRAM.Region.layout(memoryBytes: configuration.memoryBytes))
        // KVM's set-up (the PIT's kernel worker, the memory slots) takes tens of milliseconds on some
        // hosts: it runs on another thread while this one reads the kernel into guest RAM.
        let pendingMachine = try BackgroundWork(name: "kvm-setup") { try Machine(machineConfiguration, memory: memory) }
        let boot: LinuxBoot
        do {
            boot = try LinuxBoot(
                kernel: BzImage(path: configuration.kernelPath),
                initrd: configuration.initrdPath.map { try InitialRamdisk(path: $0) },
                commandLine: configuration.commandLine, memorySize: configuration.memoryBytes,
                vcpuCount: configuration.vcpus, virtioDevices: virtioSlots)
            try LinuxLoader.load(boot, into: memory)
        } catch {
            _ = try? pendingMachine.wait()
            if let error = error as? BootError { throw ConfigurationError(error.description) }
            throw error
        }
        let machine = try pendingMachine.wait()
        try LinuxLoader.setBootRegisters(boot.initialCPUState, on: machine.vcpus[0])
        return machine
    }

    private static func readState(_ restore: RestoreSource) throws -> MachineState {
        do {
            return try MachineState(contentsOf: restore.statePath)
        } catch let error as MachineStateError {
            throw ConfigurationError("snapshot \(restore.snapshotID): \(error.description)")
        }
    }

    /// Builds the VM for the restore (on another thread, unless amber-vmm's command line started that
    /// already) while this thread reads and checks the snapshot's state.
    private static func restoredMachine(
        _ restore: RestoreSource, configuration: MachineConfiguration,
        preparedEarly: PendingRestore?
    ) throws -> (Machine, MachineState) {
        let preparation = RestorePreparation(
            memoryPath: restore.memoryPath, memoryBytes: configuration.memoryBytes,
            vcpus: configuration.vcpuCount)
        let pending = try preparedEarly ?? preparation.start()
        guard pending.preparation == preparation else {
            _ = try? pending.wait()
            throw ConfigurationError(
                "the restore on amber-vmm's command line (\(pending.preparation.memoryPath), \(pending.preparation.memoryBytes) bytes, \(pending.preparation.vcpus) vCPUs) is not the one its configuration describes (\(preparation.memoryPath), \(preparation.memoryBytes) bytes, \(preparation.vcpus) vCPUs)"
            )
        }
        let state: MachineState
        do {
            state = try readState(restore)
        } catch {
            _ = try? pending.wait()
            throw error
        }
        let machine = try Machine(configuration, prepared: try pending.wait())
        do {
            try machine.restore(from: state)
        } catch let error as MachineStateError {
            throw ConfigurationError("snapshot \(restore.snapshotID) cannot be restored: \(error.description)")
        }
        return (machine, state)
    }

    /// A virtio-mmio block device: MMIO window on the bus, queue notifications through an
    /// ioeventfd straight to the device's worker thread, interrupts through an irqfd.
    private static func attachDisk(
        _ disk: DiskConfiguration, at slot: VirtioMMIODeviceSlot,
        to machine: Machine
    ) throws -> (VirtioBlockDevice, VirtioDeviceAttachment) {
        let device: VirtioBlockDevice
        do {
            device = try VirtioBlockDevice(backend: try backend(for: disk), serial: VirtioBlockDevice.fileName(of: disk.path))
        } catch let error as DiskError {
            throw ConfigurationError(error.description)
        }
        let irqfd = try EventFD()
        try machine.kvm.registerIRQFD(irqfd, gsi: slot.gsi)
        let transport = VirtioMMIOTransport(device: device, memory: machine.memory, interrupt: VirtioInterrupt(irqfd: irqfd))
        try machine.kvm.registerIOEventFD(
            device.notifyEvent, address: slot.baseAddress + VirtioMMIORegister.queueNotify,
            length: 4, dataMatch: 0)
        try machine.mmio.register(transport, base: slot.baseAddress, length: GuestMemoryLayout.virtioMMIOWindowSize)
        machine.addPausableDevice(device)
        return (device, VirtioDeviceAttachment(mmioBase: slot.baseAddress, transport: transport, block: device))
    }

    /// The NIC's tap, in its network namespace when one is named; failures are bad input (exit 2).
    private static func openTap(_ interface: NetworkInterfaceConfiguration) throws -> TapDevice {
        guard MACAddress(interface.macAddress) != nil else {
            throw ConfigurationError("MAC address \"\(interface.macAddress)\" is invalid: write six hex pairs separated by colons")
        }
        do {
            return try TapDevice.attach(name: interface.tapName, networkNamespacePath: interface.networkNamespacePath)
        } catch let error as SystemError {
            throw ConfigurationError(
                "\(error.description)\(interface.networkNamespacePath.map { " (network namespace \($0))" } ?? ""): create the tap first (the VM's network set-up does)"
            )
        }
    }

    /// A virtio-mmio network device, wired like a disk: one ioeventfd per queue (datamatch = the queue's
    /// index) straight to the device's worker, interrupts through an irqfd.
    static func attachNetwork(_ device: VirtioNetDevice, at slot: VirtioMMIODeviceSlot, to machine: Machine) throws
        -> VirtioDeviceAttachment
    {
        let irqfd = try EventFD()
        try machine.kvm.registerIRQFD(irqfd, gsi: slot.gsi)
        let transport = VirtioMMIOTransport(device: device, memory: machine.memory, interrupt: VirtioInterrupt(irqfd: irqfd))
        for (queue, event) in device.queueNotifyEvents.enumerated() {
            try machine.kvm.registerIOEventFD(
                event, address: slot.baseAddress + VirtioMMIORegister.queueNotify, length: 4, dataMatch: UInt64(queue))
        }
        try machine.mmio.register(transport, base: slot.baseAddress, length: GuestMemoryLayout.virtioMMIOWindowSize)
        machine.addPausableDevice(device)
        return VirtioDeviceAttachment(mmioBase: slot.baseAddress, transport: transport, block: nil, network: device)
    }

    /// A disk with an overlay never writes its base; the overlay is made empty on first use.
    private static func backend(for disk: DiskConfiguration) throws -> BlockBackend {
        guard let overlayPath = disk.overlayPath else {
            return try RawFileBackend(path: disk.path, readOnly: disk.readOnly)
        }
        if !disk.readOnly && access(OverlayDisk.mapPath(forOverlay: overlayPath), F_OK) != 0 {
            return try OverlayDisk.create(basePath: disk.path, overlayPath: overlayPath)
        }
        return try OverlayDisk(basePath: disk.path, overlayPath: overlayPath, readOnly: disk.readOnly)
    }
}
