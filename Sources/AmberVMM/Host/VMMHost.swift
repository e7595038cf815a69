import AmberControl
import AmberSystem
import AmberVirtio
import Glibc

/// One VM as amber-vmm runs it: the machine `BuiltMachine` made, the serial console and the control
/// socket; its snapshots are `SnapshotSession`s. `run()` blocks until the guest stops.
/// Unchecked: `controlServer` is set on amber-vmm's main thread before `run` starts the server's threads
/// (the only other threads that reach the host); `built` (a plain struct of the machine's devices and
/// disks, each safe to share) and `log` (amber-vmm's line writer, which writes to stderr) are not marked
/// Sendable. The compiler cannot see that ordering.
public final class VMMHost: ControlTarget, @unchecked Sendable {
    public let configuration: VMConfiguration
    public let machine: Machine
    private let built: BuiltMachine
    private let console: ConsoleHub
    /// Listening from `openControlSocket` (before amber-vmm confines itself), serving once the VM runs.
    private var controlServer: ControlServer?
    private let snapshots: SnapshotLedger
    private let log: (String) -> Void

    /// Builds the VM (see `BuiltMachine`); nothing runs yet.
    /// - consoleOutput: where serial output goes besides attached console clients (nil: nowhere).
    /// - log: lifecycle lines (amber-vmm sends them to stderr).
    public init(
        configuration: VMConfiguration, consoleOutput: FileDescriptor?,
        log: @escaping (String) -> Void = { _ in }, preparedRestore: PendingRestore? = nil
    ) throws {
        self.configuration = configuration
        self.log = log
        let console = ConsoleHub(primary: consoleOutput)
        self.console = console
        built = try BuiltMachine(configuration, serialOutput: { console.write($0) }, log: log, preparedRestore: preparedRestore)
        machine = built.machine
        snapshots = SnapshotLedger(
            memory: machine.memory, restoredFrom: configuration.restore?.snapshotID,
            log: { log("VM \(configuration.name): \($0)") })
    }

    /// Binds the control socket at its path (clients that connect wait until `run` serves them). Call it
    /// before confining the process: the socket's directory is not writable from inside the jail.
    public func openControlSocket() throws {
        if let warning = HostChecks.pvmWarning() { log(warning) }
        controlServer = try ControlServer(path: configuration.controlSocketPath, target: self)
    }

    /// Starts the vCPUs, serves the control socket and waits for the guest to stop; then closes the
    /// socket and stops the devices, making every completed write durable.
    public func run() throws -> MachineExit {
        log(
            "VM \(configuration.name) starting: \(configuration.vcpus) vCPU(s), \(ConfigurationCheck.describe(configuration.memoryBytes)) memory, \(built.disks.count) disk(s), \(built.networkInterfaces.count) NIC(s), pid \(getpid())"
        )
        try machine.start()
        // Served once the VM runs: a client whose request is answered finds it running.
        let server: ControlServer
        do {
            if controlServer == nil { try openControlSocket() }
            server = controlServer!
            try server.start()
        } catch {
            machine.stop(.stopped)
            _ = machine.waitForExit()
            do { try stopDisks() } catch let flushError { log("\(flushError)") }
            throw error
        }
        let exit = machine.waitForExit()
        server.close()
        console.detachAll()
        try stopDisks()
        for (configured, device) in built.networkInterfaces {
            let counters = device.counters
            log(
                "VM \(configuration.name) NIC on tap \(configured.tapName): \(counters.framesSent) frames sent, \(counters.framesReceived) received, \(counters.transmitRefused) refused (broken frames), \(counters.transmitErrors) not taken by the tap, \(counters.receiveDropped) dropped on receive"
            )
        }
        let ports = machine.ports.unclaimedAccesses, mmio = machine.mmio.unclaimedAccesses
        log(
            "VM \(configuration.name) ended: \(exit) (unclaimed accesses, ignored: port reads \(ports.reads), port writes \(ports.writes), MMIO reads \(mmio.reads), MMIO writes \(mmio.writes))"
        )
        return exit
    }

    /// Stops the disks' workers and makes every write the guest was told completed durable, FLUSH or not:
    /// a guest that powers off, reboots or is stopped keeps what it wrote (QEMU and Firecracker do too).
    /// Throws, naming each disk, when that fails, so amber-vmm exits with an error rather than 0.
    private func stopDisks() throws {
        built.networkInterfaces.forEach { $0.device.stop() }
        built.mapCommitters.forEach { $0.stop() }
        built.disks.forEach { $0.device.stop() }
        var failures: [String] = []
        for (configured, device) in built.disks {
            do {
                try device.backend.flush()
            } catch {
                failures.append("disk \(configured.overlayPath ?? configured.path): \(error)")
            }
        }
        guard failures.isEmpty else {
            throw MachineError("VM \(configuration.name): writes the guest completed may be lost: " + failures.joined(separator: "; "))
        }
    }

    /// Each disk's worker thread installs the device filter (`SystemCallFilter.confineDeviceThread`), each
    /// NIC's the network device filter (`confineNetworkDeviceThread`), before it serves another request; a
    /// worker that cannot stops serving and the VM stops, logged.
    public func confineDeviceWorkers() {
        let failed: (Error) -> Void = { [weak self] error in
            self?.log("a virtio device thread could not install its system call filter: \(error)")
            self?.machine.stop(.crashed(reason: "a virtio device thread could not be confined: \(error)"))
        }
        for (_, device) in built.disks {
            device.confineWorker({ try SystemCallFilter.confineDeviceThread() }, failed: failed)
        }
        for (_, device) in built.networkInterfaces {
            device.confineWorker({ try SystemCallFilter.confineNetworkDeviceThread() }, failed: failed)
        }
    }

    /// The NICs' devices, in attachment order (for tests and status).
    var networkDevices: [VirtioNetDevice] { built.networkInterfaces.map(\.device) }
    /// Every virtio device as attached (disks, then NICs).
    var virtioDevices: [VirtioDeviceAttachment] { built.virtioDevices }

    /// Feeds bytes to the guest's serial port (from amber-vmm's stdin or a console client).
    public func typeIntoConsole(_ bytes: [UInt8]) {
        machine.serial.receive(bytes)
    }

    /// `value` with one decimal, as "%.1f" would print it (String(format:) needs all of Foundation).
    public static func tenths(_ value: Double) -> String {
        let scaled = Int((value * 10).rounded())
        return "\(scaled / 10).\(abs(scaled % 10))"
    }

    // MARK: ControlTarget

    public func status() -> VMStatus {
        let state: VMStatus.State
        switch machine.currentState {
        case .created: state = .starting
        case .running: state = .running
        case .paused: state = .paused
        case .stopping, .stopped: state = .stopping
        }
        return VMStatus(
            name: configuration.name, pid: getpid(), state: state, vcpus: configuration.vcpus,
            memoryBytes: configuration.memoryBytes, uptimeSeconds: machine.uptime,
            memoryAddress: UInt64(UInt(bitPattern: machine.memory.mapping.base)))
    }

    public func pause() throws {
        let started = MonotonicClock.now()
        try machine.pause()
        log("VM \(configuration.name) paused (all vCPUs stopped in \(Self.tenths((MonotonicClock.now() - started) * 1000)) ms)")
    }

    public func resume() throws {
        if let pause = snapshots.pauseHolder {
            let held = Self.tenths(MonotonicClock.now() - pause.since)
            throw ControlRefusal(
                .pausedForSnapshot,
                "VM \(configuration.name) is paused for a snapshot by process \(pause.client) (for \(held) s so far); it resumes by itself as soon as the snapshot has read its disks, or after \(Self.tenths(snapshotPauseLimit)) s at the latest"
            )
        }
        try machine.resume()
        log("VM \(configuration.name) resumed")
    }

    /// How long a snapshot may keep the guest paused (see `SnapshotSession`).
    var snapshotPauseLimit: Double { configuration.snapshotPauseLimitSeconds ?? VMConfiguration.defaultSnapshotPauseLimit }

    public func beginSnapshot(memory: Bool, client: Int32) throws -> SnapshotSession {
        let subject = SnapshotSubject(
            name: configuration.name, machine: machine, disks: built.disks,
            virtioDevices: built.virtioDevices, restoredFrom: configuration.restore?.snapshotID,
            pauseLimit: snapshotPauseLimit, log: log)
        return try SnapshotSession(memory: memory, client: client, subject: subject, ledger: snapshots)
    }

    public func requestStop() {
        log("VM \(configuration.name) stop requested")
        machine.stop(.stopped)
    }

    public func attachConsole(_ client: FileDescriptor) {
        console.attach(client)
    }

    public func detachConsole(_ client: FileDescriptor) {
        console.detach(client)
    }
}
