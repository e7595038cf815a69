import AmberControl
import Foundation
import Glibc

/// Finds VMs under the home and controls running ones through their control sockets.
public struct VMManager {
    public let home: AmberHome

    public init(home: AmberHome) {
        self.home = home
    }

    public enum StopOutcome: Equatable, Sendable {
        case stopped
        case alreadyStopped
        /// amber-vmm did not exit in time after `stop` (or did not answer) and got SIGKILL.
        case killed(pid: Int32)
    }

    /// Every VM directory, running or not, by name. A home without VMs (or without a vms/
    /// directory) gives an empty list and is left untouched.
    public func list() -> [VMSummary] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: home.vmsDirectory.path)) ?? []
        return names.sorted()
            .map(home.vm)
            .filter(\.exists)
            .map(summary)
    }

    /// One VM as `list` shows it; throws "no VM named" when there is none.
    public func inspect(_ name: String) throws -> VMSummary {
        summary(of: try existing(name))
    }

    public func pause(_ name: String) throws {
        _ = try ControlClient(try running(name)).send(.pause)
    }

    public func resume(_ name: String) throws {
        _ = try ControlClient(try running(name)).send(.resume)
    }

    /// Asks amber-vmm to stop and waits up to `timeout` seconds for it to exit, then kills it.
    public func stop(_ name: String, timeout: Double = 30) throws -> StopOutcome {
        let directory = try existing(name)
        let client = ControlClient(directory)
        let status = try? client.status()
        guard status != nil || directory.isOwnedByLiveProcess else { return .alreadyStopped }
        let pid = status?.pid ?? directory.vmmPID
        // A live amber-vmm that does not answer `status` will not answer `stop` either: only the
        // kill below can end it.
        if status != nil {
            do {
                _ = try client.send(.stop)
            } catch VMLifecycleError.unreachable {}
        }
        defer { directory.removeWhatAmberVMMLeft() }
        if waitUntilReleased(directory, timeout: timeout) { return .stopped }
        guard let pid, Self.isVMM(pid) else {
            throw VMLifecycleError.stopTimedOut(name: name, seconds: timeout)
        }
        kill(pid, SIGKILL)
        _ = waitUntilReleased(directory, timeout: 5)
        return .killed(pid: pid)
    }

    /// Deletes a stopped VM's directory (configuration, logs, disk overlays) and what its NICs held on the host
    /// (taps, addresses, published ports, a clone's namespace). Its snapshots stay.
    public func remove(_ name: String) throws {
        let directory = try existing(name)
        guard !directory.isOwnedByLiveProcess else { throw VMLifecycleError.removingRunning(name: name) }
        // The network first: if it cannot be released (no CAP_NET_ADMIN), the VM stays, and `amber rm` can be
        // run again by someone who may.
        try VMNetworking(home: home).release(vm: name, directory.readConfiguration()?.networkInterfaces ?? [])
        try FileManager.default.removeItem(at: directory.url)
    }

    /// The VM's directory; throws "no VM named" when there is none.
    func existing(_ name: String) throws -> VMDirectory {
        try VMName.validate(name)
        let directory = home.vm(name)
        RollbackLock.finishInterrupted(directory)
        guard directory.exists else { throw VMLifecycleError.notFound(name: name) }
        return directory
    }

    /// The VM's directory when an amber-vmm serves it.
    func running(_ name: String) throws -> VMDirectory {
        let directory = try existing(name)
        guard directory.isOwnedByLiveProcess || FileManager.default.fileExists(atPath: directory.controlSocket.path) else {
            throw VMLifecycleError.notRunning(name: name)
        }
        do {
            _ = try ControlClient(directory).status()
        } catch VMLifecycleError.unreachable(_, let reason) {
            guard directory.isOwnedByLiveProcess else { throw VMLifecycleError.notRunning(name: name) }
            throw VMLifecycleError.unreachable(name: name, reason: reason)
        }
        return directory
    }

    func summary(of directory: VMDirectory) -> VMSummary {
        let configuration = directory.readConfiguration()
        let nics = NICSummary.of(vm: directory.name, configuration: configuration, networks: home.networks)
        if let status = try? ControlClient(directory).status() {
            return VMSummary(
                name: directory.name, state: VMSummary.State(status.state), pid: status.pid,
                vcpus: status.vcpus, memoryBytes: status.memoryBytes, uptimeSeconds: status.uptimeSeconds,
                networkInterfaces: nics)
        }
        let state: VMSummary.State
        if directory.isOwnedByLiveProcess {
            state = FileManager.default.fileExists(atPath: directory.controlSocket.path) ? .unresponsive : .booting
        } else {
            state = .stopped
        }
        return VMSummary(
            name: directory.name, state: state, pid: directory.vmmPID,
            vcpus: configuration?.vcpus, memoryBytes: configuration?.memoryBytes, uptimeSeconds: nil,
            networkInterfaces: nics)
    }

    /// True once neither amber-vmm nor a foreground `amber run` holds the VM, within `timeout`.
    private func waitUntilReleased(_ directory: VMDirectory, timeout: Double) -> Bool {
        let start = Date()
        let deadline = start.addingTimeInterval(timeout)
        while directory.isOwnedByLiveProcess {
            if Date() > deadline { return false }
            // amber-vmm usually exits within tens of milliseconds of `stop`, and a rollback waits for it
            // before starting the VM again: look often at first (a check costs microseconds), then rarely.
            usleep(Date().timeIntervalSince(start) < 0.25 ? 1_000 : 20_000)
        }
        return true
    }

    /// Guards the SIGKILL: the pid must still be an amber-vmm (not a reused pid, nor whatever else
    /// happens to hold the lock).
    static func isVMM(_ pid: Int32) -> Bool {
        guard let commandLine = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")) else { return false }
        let program = commandLine.split(separator: 0).first.map { String(decoding: $0, as: UTF8.self) } ?? ""
        return program.hasSuffix(VMMExecutable.name)
    }
}

extension VMSummary.State {
    init(_ state: VMStatus.State) {
        switch state {
        case .starting: self = .starting
        case .running: self = .running
        case .paused: self = .paused
        case .stopping: self = .stopping
        }
    }
}
