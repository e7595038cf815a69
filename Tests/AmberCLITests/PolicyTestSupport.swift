import AmberCatalog
import AmberControl
import AmberCore
import AmberTestSupport
import AmberVMM
import Foundation
import Glibc
import Testing

/// A CLI home with a policy directory, catalog rows written straight into its real SQLite catalog, and VM
/// directories; plus the real amberd binary run in the background.
struct PolicyHome {
    let cli: CLIHome
    let policies: URL

    init() throws {
        cli = try CLIHome()
        policies = cli.scratch.appendingPathComponent("policies")
        try FileManager.default.createDirectory(at: policies, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: cli.root, withIntermediateDirectories: true)
    }

    func remove() { cli.remove() }

    var amberHome: AmberHome { AmberHome(explicit: cli.root.path) }

    func catalog() throws -> Catalog { try Catalog(path: cli.root.appendingPathComponent("catalog.db").path) }

    /// Writes (or replaces, atomically as editors do) one policy file.
    func writePolicy(_ name: String, _ text: String) throws {
        let temporary = cli.scratch.appendingPathComponent(".\(name).tmp")
        try Data(text.utf8).write(to: temporary)
        guard rename(temporary.path, policies.appendingPathComponent(name).path) == 0 else {
            throw PolicyTestFailure(description: "cannot rename into \(policies.path)")
        }
    }

    /// A stopped VM's directory; `restoring` makes it a VM continuing from that snapshot (rollback or clone).
    func addVMDirectory(_ name: String, restoring snapshot: String? = nil) throws {
        let directory = cli.vmDirectory(name)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let configuration = VMConfiguration(
            name: name, kernelPath: "/nonexistent", initrdPath: nil, commandLine: "", memoryBytes: 64 << 20, vcpus: 1,
            disks: [], controlSocketPath: directory.appendingPathComponent("control.sock").path, consoleLogPath: nil,
            restore: snapshot.map { RestoreSource(snapshotID: $0, statePath: "/nonexistent", memoryPath: "/nonexistent") })
        try JSONEncoder().encode(configuration).write(to: directory.appendingPathComponent("config.json"))
    }

    func insertSnapshots(vm: String, _ snapshots: [(id: String, at: Date, policy: String?, protected: Bool)]) throws {
        try catalog().write { db in
            if try db.vm(named: vm) == nil {
                try db.insertVM(VMRecord(name: vm, config: "{}", created: Date(timeIntervalSince1970: 0)))
            }
            for snapshot in snapshots {
                try db.insertSnapshot(
                    SnapshotRecord(
                        id: snapshot.id, vm: vm, created: snapshot.at, kind: "full",
                        logicalBytes: 1000, storedBytes: 100, pauseMicroseconds: 1,
                        protected: snapshot.protected, policy: snapshot.policy))
            }
        }
    }

    func snapshotIDs(vm: String) throws -> [String] {
        try catalog().read { try $0.snapshots(vm: vm) }.map(\.id)
    }

    func amber(_ arguments: [String], timeout: Double = 60) throws -> CLIResult {
        try cli.amber(arguments + ["--policies", policies.path], timeout: timeout)
    }

    func startAmberd(_ extra: [String] = []) throws -> AmberdProcess {
        try AmberdProcess(
            arguments: ["--home", cli.root.path, "--policies", policies.path] + extra,
            log: cli.scratch.appendingPathComponent("amberd-\(UUID().uuidString.prefix(6)).log"))
    }
}

/// The real amberd binary in the background, its stderr in a file the test reads as it grows.
final class AmberdProcess {
    static let binary = BuiltProducts.amberd
    let process = Process()
    let logFile: URL

    init(arguments: [String], log: URL) throws {
        guard FileManager.default.isExecutableFile(atPath: Self.binary.path) else { throw MissingBinary(path: Self.binary.path) }
        logFile = log
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = Self.binary
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["AMBER_HOME"] = nil
        environment["AMBER_POLICIES"] = nil
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = try FileHandle(forWritingTo: log)
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    func lines(containing text: String) -> [String] {
        log.split(separator: "\n").map(String.init).filter { $0.contains(text) }
    }

    /// Waits until at least `count` log lines contain `text`; false on timeout or if amberd exited.
    @discardableResult
    func waitFor(_ text: String, count: Int = 1, timeout: Double) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if lines(containing: text).count >= count { return true }
            if !process.isRunning { return lines(containing: text).count >= count }
            usleep(50_000)
        }
        return false
    }

    /// Sends SIGTERM and waits for the exit; nil if amberd did not exit within `timeout`.
    func terminate(timeout: Double = 60) -> Int32? {
        if process.isRunning { kill(process.processIdentifier, SIGTERM) }
        return waitForExit(timeout: timeout)
    }

    func waitForExit(timeout: Double) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            guard Date() < deadline else { return nil }
            usleep(20_000)
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }
}

struct PolicyTestFailure: Error, CustomStringConvertible {
    let description: String
}
