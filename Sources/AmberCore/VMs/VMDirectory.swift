import AmberSystem
import AmberControl
import Foundation
import Glibc

/// `<home>/vms/<name>/`: everything one VM leaves on disk. Kept after the VM stops so that its
/// configuration and logs stay readable; the next `amber run` of the same name reuses it.
public struct VMDirectory: Sendable {
    public let name: String
    public let url: URL

    public init(home: AmberHome, name: String) {
        self.name = name
        self.url = home.vmDirectory(name)
    }

    /// The VMConfiguration amber-vmm reads; amber-vmm holds an exclusive flock on it while it lives.
    public var configFile: URL { url.appendingPathComponent("config.json") }
    public var controlSocket: URL { url.appendingPathComponent("control.sock") }
    /// Serial console output of a VM started with --detach.
    public var consoleLog: URL { url.appendingPathComponent("console.log") }
    /// amber-vmm's stdout and stderr when started with --detach.
    public var vmmLog: URL { url.appendingPathComponent("vmm.log") }
    /// Held by `amber run` from its checks until amber-vmm holds the config lock (in the foreground:
    /// for the VM's whole life), so two launches of one name cannot both pass the checks.
    public var runLock: URL { url.appendingPathComponent("run.lock") }

    /// The copy-on-write layer of the VM's disk `index` (its map lives beside it); the VM's writes.
    public func overlay(forDisk index: Int) -> URL { url.appendingPathComponent("disk\(index).overlay") }

    public var exists: Bool { FileManager.default.fileExists(atPath: configFile.path) }

    /// True while an amber-vmm or an `amber run` owns this VM.
    public var isOwnedByLiveProcess: Bool {
        FileLock.isHeld(at: configFile.path) || FileLock.isHeld(at: runLock.path)
    }

    /// A confined amber-vmm cannot remove its control socket or its cgroup when it exits (both are out of
    /// its reach): `amber` does, once no amber-vmm owns the VM (`holdingRunLock`: this process holds the
    /// run lock, as a foreground `amber run` does).
    func removeWhatAmberVMMLeft(holdingRunLock: Bool = false) {
        guard holdingRunLock ? !FileLock.isHeld(at: configFile.path) : !isOwnedByLiveProcess else { return }
        unlink(controlSocket.path)
        VMControlGroup.remove(vmDirectory: url.path)
    }

    public func readConfiguration() -> VMConfiguration? {
        guard let data = try? Data(contentsOf: configFile) else { return nil }
        return try? JSONDecoder().decode(VMConfiguration.self, from: data)
    }

    /// The live amber-vmm's pid, known even when its socket does not answer: it holds the config lock.
    public var vmmPID: Int32? {
        FileLock.holder(of: configFile.path).flatMap { $0 > 0 ? $0 : nil }
    }
}

extension AmberHome {
    public func vm(_ name: String) -> VMDirectory { VMDirectory(home: self, name: name) }
}
