import AmberSystem
import AmberControl
import AmberDisk
import Foundation
import Glibc

/// A VM's files moved aside (renamed with `suffix`) while a rollback starts its replacement in the same
/// directory, so that the VM can be put back exactly as it was if the replacement fails: its amber-vmm
/// paused, not stopped (its memory, vCPUs and devices intact), its disk overlays, configuration, control
/// socket and logs under other names. Renaming keeps every open descriptor working: the paused amber-vmm
/// keeps its config lock, its listening socket and its overlays, wherever their names now are.
struct VMSetAside {
    static let suffix = ".replaced"

    let directory: VMDirectory
    /// True when we paused the set-aside amber-vmm (it was running): putting it back resumes it.
    let pausedByUs: Bool
    /// Original path -> aside path, for the files that existed.
    private let moved: [(original: String, aside: String)]

    /// Pauses the running VM (if any) and renames its files aside. On failure nothing stays changed.
    init(_ directory: VMDirectory, running: Bool) throws {
        self.directory = directory
        let configuration = directory.readConfiguration()
        var pausedByUs = false
        if running {
            let client = ControlClient(directory)
            if try client.status().state == .running {
                _ = try client.send(.pause)
                pausedByUs = true
            }
        }
        self.pausedByUs = pausedByUs
        var files = [directory.configFile.path, directory.controlSocket.path, directory.consoleLog.path, directory.vmmLog.path]
        for overlay in (configuration?.disks ?? []).compactMap(\.overlayPath) {
            files += [overlay, OverlayDisk.mapPath(forOverlay: overlay)]
        }
        var moved: [(original: String, aside: String)] = []
        do {
            for original in files where access(original, F_OK) == 0 {
                try Self.rename(original, to: original + Self.suffix)
                moved.append((original, original + Self.suffix))
            }
        } catch {
            _ = Self.putBack(moved, resuming: pausedByUs, directory: directory)
            throw error
        }
        self.moved = moved
    }

    /// The replacement failed: removes whatever it left under the VM's names, renames the set-aside files
    /// back and resumes the VM if we paused it. Returns what could not be put back (nil when all was).
    @discardableResult
    func putBack() -> String? {
        Self.putBack(moved, resuming: pausedByUs, directory: directory)
    }

    private static func putBack(
        _ moved: [(original: String, aside: String)], resuming: Bool,
        directory: VMDirectory
    ) -> String? {
        var problems: [String] = []
        for (original, aside) in moved.reversed() {
            unlink(original)
            do { try rename(aside, to: original) } catch { problems.append("\(error)") }
        }
        if resuming {
            do { _ = try ControlClient(directory).send(.resume) } catch { problems.append("resume: \(error)") }
        }
        return problems.isEmpty ? nil : problems.joined(separator: "; ")
    }

    /// The replacement runs: stops the set-aside amber-vmm (see the static `discard`) and deletes its files.
    func discard() {
        Self.discard(
            asideFiles: moved.map(\.aside), name: directory.name, asideSocket: directory.controlSocket.path + Self.suffix,
            asideConfig: directory.configFile.path + Self.suffix)
    }

    /// Asks the amber-vmm that holds `asideConfig` (if any) to stop, kills it if it has not exited within
    /// `timeout` seconds, and deletes the set-aside files.
    static func discard(asideFiles: [String], name: String, asideSocket: String, asideConfig: String, timeout: Double = 10) {
        if let pid = FileLock.holder(of: asideConfig) {
            _ = try? ControlClient(name: name, socketPath: asideSocket).send(.stop, timeout: 2)
            let deadline = Date().addingTimeInterval(timeout)
            while FileLock.isHeld(at: asideConfig), Date() < deadline { usleep(2_000) }
            if FileLock.isHeld(at: asideConfig), pid > 0, VMManager.isVMM(pid) {
                kill(pid, SIGKILL)
                let killed = Date().addingTimeInterval(5)
                while FileLock.isHeld(at: asideConfig), Date() < killed { usleep(2_000) }
            }
        }
        for aside in asideFiles { unlink(aside) }
    }

    private static func rename(_ from: String, to: String) throws {
        guard Glibc.rename(from, to) == 0 else {
            throw VMLifecycleError.setAside(path: from, cause: FailureCause(errno: errno))
        }
    }
}
