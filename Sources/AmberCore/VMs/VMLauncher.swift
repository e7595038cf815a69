import AmberSystem
import AmberControl
import AmberDisk
import Foundation
import Glibc

/// Starts amber-vmm for a `RunRequest`: in the foreground with the console on this terminal, or
/// detached with the console in console.log.
public struct VMLauncher {
    public let home: AmberHome

    public init(home: AmberHome) {
        self.home = home
    }

    /// Builds a VM's configuration for its directory; `detached` says whether its console goes to
    /// console.log. Throws on bad input before anything is written.
    public typealias Configure = (_ directory: VMDirectory, _ detached: Bool) throws -> VMConfiguration

    /// Runs the VM until amber-vmm exits and returns how it ended.
    public func runInForeground(_ request: RunRequest) throws -> ExitStatus {
        try releasingNewNICsOnFailure(of: request.name) {
            try runInForeground(name: request.name) { try VMLaunchPlan.configuration(for: request, in: $0, home: home, detached: $1) }
        }
    }

    /// Starts the VM in the background; see `runDetached(name:startTimeout:configure:)`.
    public func runDetached(_ request: RunRequest, startTimeout: Double = 30) throws -> Int32 {
        try releasingNewNICsOnFailure(of: request.name) {
            try runDetached(name: request.name, startTimeout: startTimeout) {
                try VMLaunchPlan.configuration(for: request, in: $0, home: home, detached: $1)
            }
        }
    }

    /// A VM that held nothing on the host's network before a launch that failed holds nothing after it: the
    /// taps, addresses and ports the launch made go again (a VM that had them keeps them: a failed restart
    /// must not take a VM's address).
    func releasingNewNICsOnFailure<T>(of vm: String, _ launch: () throws -> T) throws -> T {
        let networking = VMNetworking(home: home)
        let previous = home.vm(vm).readConfiguration()?.networkInterfaces ?? []
        let heldBefore = networking.holdsAnything(vm: vm, previous)
        do {
            return try launch()
        } catch {
            if !heldBefore { try? networking.release(vm: vm, home.vm(vm).readConfiguration()?.networkInterfaces ?? []) }
            throw error
        }
    }

    public func runInForeground(name: String, configure: Configure) throws -> ExitStatus {
        let launch = try prepare(name: name, detached: false, configure: configure)
        // amber-vmm puts the terminal in raw mode; if it dies without restoring it, we do.
        let terminal = SavedTerminalSettings(STDIN_FILENO)
        defer { terminal?.restore() }
        let pid = try SignalForwarding.forwarding {
            try ProcessSpawner.spawn(launch.vmmPath, arguments: launch.vmmArguments, streams: .init(), newSession: false)
        }
        try launch.makeConfigurationDurable(orStop: pid)
        let status = ProcessSpawner.wait(for: pid) ?? .exited(1)
        withExtendedLifetime(launch.runLock) {}
        launch.directory.removeWhatAmberVMMLeft(holdingRunLock: true)
        return status
    }

    /// Starts the VM in the background and returns amber-vmm's pid once the VM answers `status`
    /// with running. On failure amber-vmm is not left behind.
    /// `replacing`: a rollback set the VM's files aside (`VMSetAside`); the run lock may then be held by
    /// the `amber run` that runs the set-aside VM in the foreground, and that VM's stop ends it.
    public func runDetached(name: String, startTimeout: Double = 30, replacing: Bool = false, configure: Configure) throws -> Int32 {
        let launch = try prepare(name: name, detached: true, replacing: replacing, configure: configure)
        // The run lock must outlive the wait below (until amber-vmm holds the config lock): Swift may
        // release `launch` after its last use, and a second `amber run` of the name would then pass
        // the checks and remove this VM's socket (seen as a concurrent-run race in the guest scenarios).
        defer { withExtendedLifetime(launch) {} }
        let directory = launch.directory
        let devNull = try FileDescriptor.open("/dev/null", O_RDWR)
        let log = try FileDescriptor.open(directory.vmmLog.path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, mode: 0o600)
        let pid = try ProcessSpawner.spawn(
            launch.vmmPath, arguments: launch.vmmArguments,
            streams: .init(input: devNull.rawValue, output: log.rawValue, error: log.rawValue), newSession: true)
        try launch.makeConfigurationDurable(orStop: pid)

        let client = ControlClient(directory)
        let deadline = Date().addingTimeInterval(startTimeout)
        while true {
            if let status = ProcessSpawner.wait(for: pid, blocking: false) {
                throw VMLifecycleError.exitedDuringStart(
                    name: name, status: status.description,
                    logPath: directory.vmmLog.path, logTail: Self.tail(of: directory.vmmLog))
            }
            if let state = try? client.status(timeout: 1).state, state == .running || state == .paused {
                return pid
            }
            if Date() > deadline {
                kill(pid, SIGKILL)
                _ = ProcessSpawner.wait(for: pid)
                throw VMLifecycleError.startTimedOut(
                    name: name, seconds: Int(startTimeout),
                    logPath: directory.vmmLog.path, logTail: Self.tail(of: directory.vmmLog))
            }
            // A restored VM answers within milliseconds: poll finely (a refused connect costs microseconds).
            usleep(1_000)
        }
    }

    private struct Launch {
        let directory: VMDirectory
        let vmmPath: String
        let vmmArguments: [String]
        /// Held until this `amber` exits; see `VMDirectory.runLock`. Nil for a replacement whose
        /// predecessor's foreground `amber run` holds it.
        let runLock: FileLock?
        /// config.json, written and renamed into place but not yet on disk.
        let configuration: FileDescriptor

        /// Flushes config.json and its directory entry. Done once amber-vmm (`pid`) is on its way (it reads
        /// the file from the page cache), so the flush is off the path to the VM's first instruction; if the
        /// flush fails, that amber-vmm is killed and reaped before the error is thrown.
        func makeConfigurationDurable(orStop pid: pid_t) throws {
            do {
                try configuration.sync()
                try FileDescriptor.open(directory.url.path, O_RDONLY | O_DIRECTORY).sync()
            } catch {
                kill(pid, SIGKILL)
                _ = ProcessSpawner.wait(for: pid)
                throw error
            }
        }
    }

    /// Checks everything, then claims the VM's directory and writes its configuration.
    private func prepare(name: String, detached: Bool, replacing: Bool = false, configure: Configure) throws -> Launch {
        try VMName.validate(name)
        let directory = home.vm(name)
        let configuration = try configure(directory, detached)
        // amber-vmm's own limit, checked before anything is written (runs, clones and rollbacks alike).
        guard configuration.controlSocketPath.utf8.count <= ConfigurationCheck.maximumSocketPathBytes else {
            throw VMRequestError.socketPathTooLong(
                path: configuration.controlSocketPath, maximum: ConfigurationCheck.maximumSocketPathBytes)
        }
        let vmmPath = try VMMExecutable.locate()

        try FileManager.default.createDirectory(
            at: directory.url, withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        let runLock: FileLock?
        do {
            runLock = try FileLock(exclusive: directory.runLock.path, creating: true)
        } catch FileLock.Failure.alreadyLocked where replacing {
            runLock = nil
        } catch FileLock.Failure.alreadyLocked {
            throw VMLifecycleError.alreadyRunning(name: name, pid: directory.vmmPID)
        }
        if FileLock.isHeld(at: directory.configFile.path) {
            throw VMLifecycleError.alreadyRunning(name: name, pid: directory.vmmPID)
        }
        if let status = try? ControlClient(directory).status(timeout: 1) {
            throw VMLifecycleError.alreadyRunning(name: name, pid: status.pid)
        }

        let fileManager = FileManager.default
        for stale in [directory.controlSocket, directory.consoleLog, directory.vmmLog] {
            try? fileManager.removeItem(at: stale)
        }
        // A VM continuing from a snapshot starts from the snapshot's disks: whatever it wrote before is discarded.
        if configuration.restore != nil {
            for disk in configuration.disks {
                if let overlay = disk.overlayPath { try OverlayDisk.remove(overlayPath: overlay) }
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let configurationFile = try Self.replace(directory.configFile.path, with: try encoder.encode(configuration))
        if let consoleLog = configuration.consoleLogPath {
            _ = try FileDescriptor.open(consoleLog, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        }
        return Launch(
            directory: directory, vmmPath: vmmPath, vmmArguments: Self.vmmArguments(configuration, in: directory),
            runLock: runLock, configuration: configurationFile)
    }

    /// `--config FILE`, and for a restore the memory file, size and vCPU count again, so amber-vmm starts
    /// building the VM before it has decoded the configuration (`RestorePreparation`).
    static func vmmArguments(_ configuration: VMConfiguration, in directory: VMDirectory) -> [String] {
        var arguments = ["--config", directory.configFile.path]
        if let restore = configuration.restore {
            arguments += [
                "--restore-memory", restore.memoryPath, "--restore-bytes", String(configuration.memoryBytes),
                "--restore-vcpus", String(configuration.vcpus),
            ]
        }
        return arguments
    }

    /// Puts `contents` at `path` in one rename (a reader sees the old file or the new one, never part of
    /// one) and returns the new file, not yet flushed: see `Launch.makeConfigurationDurable()`.
    private static func replace(_ path: String, with contents: Data) throws -> FileDescriptor {
        let temporary = TemporaryFile.path(replacing: path)
        do {
            let file = try FileDescriptor.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
            try contents.withUnsafeBytes { try file.write($0, at: 0) }
            try retryingInterrupts("rename \(temporary)") { rename(temporary, path) }
            return file
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// The last few lines of a log, on one line, for error messages.
    static func tail(of file: URL, lines: Int = 3) -> String {
        guard let handle = try? FileHandle(forReadingFrom: file) else { return "(no log)" }
        defer { try? handle.close() }
        let size = (try? handle.seekToEnd()) ?? 0
        try? handle.seek(toOffset: size > 4096 ? size - 4096 : 0)
        let text = String(decoding: (try? handle.readToEnd()) ?? Data(), as: UTF8.self)
        let last = text.split(whereSeparator: \.isNewline).suffix(lines)
        return last.isEmpty ? "(empty)" : last.joined(separator: " | ")
    }
}
