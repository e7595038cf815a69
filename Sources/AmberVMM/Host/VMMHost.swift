import AmberBoot
import AmberKVM
import AmberSystem
import AmberVirtio
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Glibc

/// One VM as amber-vmm runs it: the machine booted from a `VMConfiguration`, its virtio disks, the
/// serial console and the control socket. `run()` blocks until the guest stops.
public final class VMMHost: ControlTarget, @unchecked Sendable {
    public static let maximumDisks = 16
    /// The most runs of written pages a snapshot is told about (see `takeMemoryChanges`).
    static let maximumChangedRuns = 16_384

    public let configuration: VMConfiguration
    public let machine: Machine
    private let console: ConsoleHub
    private var disks: [VirtioBlockDevice] = []
    private var virtioAttachments: [VirtioDeviceAttachment] = []
    /// One per writable overlay: its map is committed within a second of a write, even without a FLUSH.
    private var mapCommitters: [OverlayMapCommitter] = []
    /// Listening from `openControlSocket` (before amber-vmm confines itself), serving once the VM runs.
    private var controlServer: ControlServer?
    private let snapshotLock = ConditionLock()
    private var snapshotInProgress = false
    /// Who keeps the VM paused for a snapshot and since when (from its begin to its release or end).
    private var snapshotPause: (client: Int32, since: Double)?
    /// Counts snapshots begun, so a pause-limit watcher knows whether its snapshot still holds the VM.
    private var snapshotGeneration = 0
    /// Set when a snapshot outlived the pause limit: the VM was resumed and that snapshot can only fail.
    private var abandonedSnapshot: String?
    /// The child holding guest memory as it was when the snapshot began, until the snapshot ends.
    private var snapshotMemory: MemoryHolder?
    /// Tracks the guest memory pages written; nil where the kernel cannot (then every snapshot reads
    /// all the memory the guest touched).
    private var writeTracker: WriteTracker?
    /// A recorded snapshot whose memory the guest's equals outside `changedPages`: the last memory
    /// snapshot recorded, or the one the VM was restored from (its memory before the guest ran).
    private var memoryBaseline: String?
    private var changedPages = PageSet(pageCount: 0)
    /// The snapshot this VM last was: the last one recorded, or the one it was restored from. Its disk
    /// manifests match the disks apart from the chunks their overlays report changed since, and it is
    /// the next snapshot's parent. Nil until one is recorded (a booted VM's first snapshot reads its
    /// disks whole).
    private var lastRecordedSnapshot: String?
    private let log: (String) -> Void

    /// Builds the machine and loads the kernel, or, for a VM that continues from a snapshot, builds
    /// it from the snapshot's state and memory; nothing runs yet. Bad input (kernel, initrd, disks,
    /// sizes) throws `ConfigurationError`; KVM failures and unusable snapshots throw their own errors.
    /// - consoleOutput: where serial output goes besides attached console clients (nil: nowhere).
    /// - log: lifecycle lines (amber-vmm sends them to stderr).
    /// - preparedRestore: the restore's VM, already being built (see `RestorePreparation`); it must be the
    ///   restore the configuration describes.
    public init(configuration: VMConfiguration, consoleOutput: FileDescriptor?,
                log: @escaping (String) -> Void = { _ in }, preparedRestore: PendingRestore? = nil) throws {
        self.configuration = configuration
        self.log = log
        guard configuration.disks.count <= Self.maximumDisks else {
            throw ConfigurationError("\(configuration.disks.count) disks is too many: attach at most \(Self.maximumDisks)")
        }
        let slots = configuration.disks.indices.map { GuestMemoryLayout.virtioMMIODevice(index: $0) }
        let console = ConsoleHub(primary: consoleOutput)
        self.console = console
        let machineConfiguration = MachineConfiguration(name: configuration.name, memoryBytes: configuration.memoryBytes,
                                                        vcpuCount: configuration.vcpus,
                                                        serialOutput: { console.write($0) })
        let restoredState: MachineState?
        if configuration.restore == nil, let preparedRestore {
            _ = try? preparedRestore.wait()
            throw ConfigurationError("amber-vmm was started to restore \(preparedRestore.preparation.memoryPath), but its configuration boots a kernel")
        }
        if let restore = configuration.restore {
            (machine, restoredState) = try Self.restoredMachine(restore, configuration: machineConfiguration,
                                                                preparedEarly: preparedRestore)
        } else {
            machine = try Self.bootedMachine(configuration, machineConfiguration, virtioSlots: slots)
            restoredState = nil
        }
        for (disk, slot) in zip(configuration.disks, slots) {
            let device = try attachDisk(disk, at: slot)
            disks.append(device)
            if let overlay = device.backend as? OverlayDisk, !overlay.readOnly {
                mapCommitters.append(try OverlayMapCommitter(overlay: overlay, log: log))
            }
        }
        if let restoredState {
            try machine.restoreVirtioDevices(restoredState.virtioDevices, onto: virtioAttachments)
        }
        lastRecordedSnapshot = configuration.restore?.snapshotID
        changedPages = PageSet(pageCount: Int(machine.memory.size) / WriteTracker.pageSize)
        do {
            writeTracker = try WriteTracker(base: machine.memory.mapping.base, size: machine.memory.mapping.size)
            memoryBaseline = configuration.restore?.snapshotID
        } catch {
            log("VM \(configuration.name): snapshots read all the memory the guest touched: \(error)")
        }
    }

    private static func bootedMachine(_ configuration: VMConfiguration, _ machineConfiguration: MachineConfiguration,
                                      virtioSlots: [VirtioMMIODeviceSlot]) throws -> Machine {
        let memory = try GuestRAM(regions: GuestRAM.Region.layout(memoryBytes: configuration.memoryBytes))
        // KVM's set-up (the PIT's kernel worker, the memory slots) takes tens of milliseconds on some
        // hosts: it runs on another thread while this one reads the kernel into guest RAM.
        let pendingMachine = try BackgroundWork(name: "kvm-setup") { try Machine(machineConfiguration, memory: memory) }
        let boot: LinuxBoot
        do {
            boot = try LinuxBoot(kernel: BzImage(path: configuration.kernelPath),
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
    private static func restoredMachine(_ restore: RestoreSource, configuration: MachineConfiguration,
                                        preparedEarly: PendingRestore?) throws -> (Machine, MachineState) {
        let preparation = RestorePreparation(memoryPath: restore.memoryPath, memoryBytes: configuration.memoryBytes,
                                             vcpus: configuration.vcpuCount)
        let pending = try preparedEarly ?? preparation.start()
        guard pending.preparation == preparation else {
            _ = try? pending.wait()
            throw ConfigurationError("the restore on amber-vmm's command line (\(pending.preparation.memoryPath), \(pending.preparation.memoryBytes) bytes, \(pending.preparation.vcpus) vCPUs) is not the one its configuration describes (\(preparation.memoryPath), \(preparation.memoryBytes) bytes, \(preparation.vcpus) vCPUs)")
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
    private func attachDisk(_ disk: DiskConfiguration, at slot: VirtioMMIODeviceSlot) throws -> VirtioBlockDevice {
        let device: VirtioBlockDevice
        do {
            device = try VirtioBlockDevice(backend: try Self.backend(for: disk), serial: VirtioBlockDevice.fileName(of: disk.path))
        } catch let error as VirtioError {
            throw ConfigurationError(error.description)
        }
        let irqfd = try EventFD()
        try machine.kvm.registerIRQFD(irqfd, gsi: slot.gsi)
        let transport = VirtioMMIOTransport(device: device, memory: machine.memory, interrupt: VirtioInterrupt(irqfd: irqfd))
        try machine.kvm.registerIOEventFD(device.notifyEvent, address: slot.baseAddress + VirtioMMIORegister.queueNotify,
                                          length: 4, dataMatch: 0)
        try machine.mmio.register(transport, base: slot.baseAddress, length: GuestMemoryLayout.virtioMMIOWindowSize)
        machine.addPausableDevice(device)
        virtioAttachments.append(VirtioDeviceAttachment(mmioBase: slot.baseAddress, transport: transport, block: device))
        return device
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

    /// Binds the control socket at its path (clients that connect wait until `run` serves them). Call it
    /// before confining the process: the socket's directory is not writable from inside the jail.
    public func openControlSocket() throws {
        if let warning = HostChecks.pvmWarning() { log(warning) }
        controlServer = try ControlServer(path: configuration.controlSocketPath, target: self)
    }

    /// Starts the vCPUs, serves the control socket and waits for the guest to stop; then closes the
    /// socket and stops the devices, making every completed write durable.
    public func run() throws -> MachineExit {
        log("VM \(configuration.name) starting: \(configuration.vcpus) vCPU(s), \(ConfigurationCheck.describe(configuration.memoryBytes)) memory, \(disks.count) disk(s), pid \(getpid())")
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
        let ports = machine.ports.unclaimedAccesses, mmio = machine.mmio.unclaimedAccesses
        log("VM \(configuration.name) ended: \(exit) (unclaimed accesses, ignored: port reads \(ports.reads), port writes \(ports.writes), MMIO reads \(mmio.reads), MMIO writes \(mmio.writes))")
        return exit
    }

    /// Stops the disks' workers and makes every write the guest was told completed durable, FLUSH or not:
    /// a guest that powers off, reboots or is stopped keeps what it wrote (QEMU and Firecracker do too).
    /// Throws, naming each disk, when that fails, so amber-vmm exits with an error rather than 0.
    private func stopDisks() throws {
        mapCommitters.forEach { $0.stop() }
        disks.forEach { $0.stop() }
        var failures: [String] = []
        for (configured, device) in zip(configuration.disks, disks) {
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

    /// Each disk's worker thread installs the device filter (`SystemCallFilter.confineDeviceThread`) before
    /// it serves another request; a worker that cannot stops serving and the VM stops, logged.
    public func confineDeviceWorkers() {
        for device in disks {
            device.confineWorker({ try SystemCallFilter.confineDeviceThread() }, failed: { [weak self] error in
                self?.log("a virtio device thread could not install its system call filter: \(error)")
                self?.machine.stop(.crashed(reason: "a virtio device thread could not be confined: \(error)"))
            })
        }
    }

    /// Feeds bytes to the guest's serial port (from amber-vmm's stdin or a console client).
    public func typeIntoConsole(_ bytes: [UInt8]) {
        machine.serial.receive(bytes)
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
        return VMStatus(name: configuration.name, pid: getpid(), state: state, vcpus: configuration.vcpus,
                        memoryBytes: configuration.memoryBytes, uptimeSeconds: machine.uptime,
                        memoryAddress: UInt64(UInt(bitPattern: machine.memory.mapping.base)))
    }

    public func pause() throws {
        let started = MonotonicClock.now()
        try machine.pause()
        log("VM \(configuration.name) paused (all vCPUs stopped in \(Self.tenths((MonotonicClock.now() - started) * 1000)) ms)")
    }

    /// `value` with one decimal, as "%.1f" would print it (String(format:) needs all of Foundation).
    public static func tenths(_ value: Double) -> String {
        let scaled = Int((value * 10).rounded())
        return "\(scaled / 10).\(abs(scaled % 10))"
    }

    public func resume() throws {
        if let pause = snapshotLock.withLock({ snapshotPause }) {
            let held = Self.tenths(MonotonicClock.now() - pause.since)
            throw MachineError("VM \(configuration.name) is paused for a snapshot by process \(pause.client) (for \(held) s so far); it resumes by itself as soon as the snapshot has read its disks, or after \(Self.tenths(snapshotPauseLimit)) s at the latest")
        }
        try machine.resume()
        log("VM \(configuration.name) resumed")
    }

    /// How long a snapshot may keep the guest paused (see `enforcePauseLimit`).
    var snapshotPauseLimit: Double { configuration.snapshotPauseLimitSeconds ?? VMConfiguration.defaultSnapshotPauseLimit }

    public func beginSnapshot(memory: Bool, client: Int32) throws -> SnapshotCapture {
        guard machine.memory.isPrivate else {
            throw MachineError("VM \(configuration.name) maps its memory file shared: a snapshot cannot hold that memory")
        }
        try snapshotLock.withLock {
            guard !snapshotInProgress else {
                throw MachineError("a snapshot of VM \(configuration.name) is already being taken: wait for it to finish")
            }
            snapshotInProgress = true
            snapshotPause = (client, MonotonicClock.now())
            snapshotGeneration += 1
            abandonedSnapshot = nil
        }
        do {
            let wasPaused = machine.currentState == .paused
            if !wasPaused { try machine.pause() }
            do {
                let state = try machine.captureState(virtioDevices: virtioAttachments).encoded()
                let diskCaptures = try captureDisks()
                let changes = memory ? takeMemoryChanges() : nil
                // The fork copies page tables only; from here on guest writes get new pages and the
                // holder keeps the old ones, so the guest can run while the snapshot reads them.
                let holder = memory ? try MemoryHolder() : nil
                snapshotLock.withLock { snapshotMemory = holder }
                let written = changes.map { "; \($0.pages.reduce(0) { $0 + $1.count }) pages written since snapshot \($0.baseline)" } ?? ""
                log("VM \(configuration.name) paused for a snapshot" + (holder.map { "; process \($0.pid) holds its memory" } ?? "") + written)
                // A VM paused by `amber pause` is not held by the snapshot: nothing to bound.
                if !wasPaused {
                    let generation = snapshotLock.withLock { snapshotGeneration }
                    try NativeThread.detached(name: "snapshot-limit") { [weak self] in
                        self?.enforcePauseLimit(generation: generation)
                    }
                }
                // Untouched pages are zeros, or the restored snapshot's memory file's.
                let backing = machine.memory.file == nil ? nil : configuration.restore?.snapshotID
                let backingKnown = machine.memory.file == nil || backing != nil
                return SnapshotCapture(memoryPath: holder?.memoryPath ?? "",
                                       memoryOffset: holder.map { _ in UInt64(UInt(bitPattern: machine.memory.mapping.base)) },
                                       pagemapPath: backingKnown ? holder?.pagemapPath : nil, memoryBacking: backing,
                                       memoryBaseline: changes?.baseline, changedPages: changes?.pages,
                                       memoryBytes: machine.memory.size, machineState: Data(state),
                                       wasPaused: wasPaused, disks: diskCaptures,
                                       parent: snapshotLock.withLock { lastRecordedSnapshot })
            } catch {
                if !wasPaused { try? machine.resume() }
                throw error
            }
        } catch {
            snapshotLock.withLock {
                snapshotInProgress = false
                snapshotPause = nil
                snapshotMemory = nil
                snapshotLock.broadcast()
            }
            throw error
        }
    }

    /// A snapshot client that stalls (stopped with Ctrl-Z, hung on a full disk, ...) must not hold the
    /// guest paused: once the limit passes, the VM resumes, the held memory goes and the snapshot fails.
    private func enforcePauseLimit(generation: Int) {
        let limit = snapshotPauseLimit
        let (expired, holder) = snapshotLock.withLock { () -> (Bool, MemoryHolder?) in
            let ended = snapshotLock.wait(until: { snapshotGeneration != generation || snapshotPause == nil }, timeout: limit)
            guard !ended, let pause = snapshotPause else { return (false, nil) }
            snapshotPause = nil
            abandonedSnapshot = "the snapshot kept VM \(configuration.name) paused longer than its \(Self.tenths(limit)) s limit (process \(pause.client) did not release it), so the VM was resumed and the snapshot abandoned: take it again"
            defer { snapshotMemory = nil }
            return (true, snapshotMemory)
        }
        guard expired else { return }
        holder?.end()
        try? machine.resume()
        log("VM \(configuration.name): a snapshot kept the guest paused for \(Self.tenths(limit)) s: resumed, the snapshot is abandoned")
    }

    /// Ends the snapshot's pause (without resuming); throws when the pause limit abandoned the snapshot.
    private func takeSnapshotPause() throws -> Bool {
        try snapshotLock.withLock {
            if let abandonedSnapshot { throw MachineError(abandonedSnapshot) }
            defer { snapshotPause = nil; snapshotLock.broadcast() }
            return snapshotPause != nil
        }
    }

    public func releaseSnapshot(_ capture: SnapshotCapture) throws {
        guard try takeSnapshotPause() else { return }
        guard !capture.wasPaused else { return }
        try machine.resume()
        log("VM \(configuration.name) runs on while the snapshot reads its held memory")
    }

    /// Flushes each disk (the paused devices have no request in flight) and takes the chunks its
    /// overlay saw written since the last snapshot.
    private func captureDisks() throws -> [DiskCapture] {
        let lastRecordedSnapshot = snapshotLock.withLock { self.lastRecordedSnapshot }
        return try zip(configuration.disks, disks).map { configured, device in
            try device.backend.flush()
            guard let overlay = device.backend as? OverlayDisk else {
                // A read-only image never changes; a writable one without overlay is read whole.
                let unchanged = configured.readOnly && lastRecordedSnapshot != nil
                return DiskCapture(basePath: configured.path, overlayPath: nil, baseline: unchanged ? lastRecordedSnapshot : nil,
                                   changedChunks: [], chunkSize: OverlayDisk.defaultChunkSize)
            }
            let changed = overlay.takeDirtyChunks()
            return DiskCapture(basePath: overlay.basePath, overlayPath: overlay.overlayPath, baseline: lastRecordedSnapshot,
                               changedChunks: changed, chunkSize: overlay.chunkSize)
        }
    }

    /// The guest memory pages written since `memoryBaseline`, taken (the next snapshot counts from
    /// this instant) with that baseline; nil when there is none or writes are not tracked. Call it
    /// with the VM paused, before forking the memory holder.
    private func takeMemoryChanges() -> (baseline: String, pages: [PageRun])? {
        snapshotLock.withLock {
            guard let tracker = writeTracker else { return nil }
            do {
                for pages in try tracker.takeWrittenPages() { changedPages.insert(pages) }
            } catch {
                log("VM \(configuration.name): write tracking stopped: \(error)")
                writeTracker = nil
                memoryBaseline = nil
                return nil
            }
            let taken = changedPages.runs
            changedPages = PageSet(pageCount: changedPages.pageCount)
            // Writes scattered over more runs than this cost more to send (JSON, while paused) than
            // reading the memory saves: the snapshot then reads it all, and so does the next one
            // unless this one is recorded (the taken pages cannot be handed back).
            guard taken.count <= Self.maximumChangedRuns else {
                memoryBaseline = nil
                return nil
            }
            return memoryBaseline.map { ($0, taken) }
        }
    }

    public func finishSnapshot(_ capture: SnapshotCapture, recordedAs id: String?) {
        defer { snapshotLock.withLock { snapshotInProgress = false } }
        let hadMemory = capture.memoryOffset != nil
        let abandoned = snapshotLock.withLock { () -> Bool in
            defer { abandonedSnapshot = nil }
            return abandonedSnapshot != nil
        }
        guard let id, !abandoned else {
            for (disk, device) in zip(capture.disks ?? [], disks) {
                (device.backend as? OverlayDisk)?.markDirty(disk.changedChunks)
            }
            // Its memory changes count for the next snapshot too (without a baseline there are none).
            snapshotLock.withLock { changedPages.insert(capture.changedPages ?? []) }
            log("VM \(configuration.name): the snapshot was not recorded; its disk changes count for the next one")
            return
        }
        snapshotLock.withLock {
            lastRecordedSnapshot = id
            if hadMemory, writeTracker != nil { memoryBaseline = id }
        }
    }

    public func endSnapshot(_ capture: SnapshotCapture) throws {
        let holder = snapshotLock.withLock { () -> MemoryHolder? in
            defer { snapshotMemory = nil }
            return snapshotMemory
        }
        holder?.end()
        let stillPaused = try takeSnapshotPause()
        guard stillPaused, !capture.wasPaused else { return }
        try machine.resume()
        log("VM \(configuration.name) resumed after a snapshot")
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
