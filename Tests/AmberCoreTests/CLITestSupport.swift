import Foundation
import Glibc

/// Runs the built `amber` binary as a user would, each test with its own home directory.
struct CLIResult {
    let status: Int32
    let stdout: String
    let stderr: String
    /// Killed by a signal (a trap, a crash) rather than exiting; `status` is then the signal number.
    var killedBySignal = false

    /// The error amber printed, without its "error: " prefix (docs/cli.md).
    var errorLine: String {
        let line = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        return line.hasPrefix("error: ") ? String(line.dropFirst(7)) : line
    }
}

struct CLIHome {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let buildDirectory = packageRoot.appendingPathComponent(".build/debug")
    static let amber = buildDirectory.appendingPathComponent("amber")
    static let amberVMM = buildDirectory.appendingPathComponent("amber-vmm")

    /// Short on purpose: the control socket path inside it must fit in sockaddr_un.
    let root: URL
    let scratch: URL

    init() throws {
        let base = URL(fileURLWithPath: "/tmp").appendingPathComponent("amber-cli-\(UUID().uuidString.prefix(8))")
        root = base.appendingPathComponent("home")
        scratch = base.appendingPathComponent("files")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    func remove() {
        try? FileManager.default.removeItem(at: root.deletingLastPathComponent())
    }

    func vmDirectory(_ name: String) -> URL { root.appendingPathComponent("vms").appendingPathComponent(name) }

    /// Runs `amber ARGS --home ROOT` and waits (at most `timeout` seconds) for it to finish, with
    /// `environment` added to this process's.
    func amber(_ arguments: [String], timeout: Double = 60, environment: [String: String] = [:]) throws -> CLIResult {
        guard FileManager.default.isExecutableFile(atPath: Self.amber.path) else {
            throw MissingBinary(path: Self.amber.path)
        }
        return try Self.run(Self.amber, arguments + ["--home", root.path], timeout: timeout, environment: environment)
    }

    static func run(_ executable: URL, _ arguments: [String], timeout: Double = 60,
                    environment extra: [String: String] = [:]) throws -> CLIResult {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["AMBER_HOME"] = nil
        environment.merge(extra) { $1 }
        process.environment = environment
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        // SIGKILL, not terminate()'s SIGTERM: the child inherits the signal mask of the test thread that
        // spawns it, which blocks SIGTERM, so a hung amber outlived the deadline (seen with an amber that
        // waited forever on the lease: SigBlk in its /proc status included SIGTERM).
        let watchdog = DispatchWorkItem { kill(process.processIdentifier, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        defer { watchdog.cancel() }
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        // Foundation learns of the exit through a socket the child inherits; polling with a deadline
        // turns a descendant that keeps it open into a failure instead of a hung test.
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            guard Date() < deadline else { throw NotFinished(arguments: arguments, seconds: timeout) }
            usleep(10_000)
        }
        return CLIResult(status: process.terminationStatus,
                         stdout: String(decoding: stdout, as: UTF8.self),
                         stderr: String(decoding: stderr, as: UTF8.self),
                         killedBySignal: process.terminationReason == .uncaughtSignal)
    }

    /// A file with the bzImage boot-header magic and nothing else: it passes `amber run`'s check,
    /// and amber-vmm refuses it as truncated.
    func fakeBzImage() throws -> String {
        var bytes = [UInt8](repeating: 0, count: 0x210)
        bytes.replaceSubrange(0x202..<0x206, with: Array("HdrS".utf8))
        return try file("bzImage", bytes)
    }

    func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = scratch.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    /// Every file and directory under the home, relative to it: "nothing half-written" checks.
    func contents() -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: root.path) else { return [] }
        return enumerator.compactMap { $0 as? String }.sorted()
    }
}

struct NotFinished: Error, CustomStringConvertible {
    let arguments: [String]
    let seconds: Double
    var description: String { "amber \(arguments.joined(separator: " ")) was not seen to exit within \(seconds) s" }
}

struct MissingBinary: Error, CustomStringConvertible {
    let path: String
    var description: String { "\(path) is missing: run `swift build` (or `make unit-test`) before these tests" }
}

/// Holds an exclusive flock on a file, as a live amber-vmm does on its config.json.
final class HeldLock {
    private var fd: Int32

    init(_ path: String) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        precondition(fd >= 0 && flock(fd, LOCK_EX) == 0, "cannot lock \(path)")
    }

    /// What amber-vmm's exit does to its lock.
    func release() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    deinit { release() }
}
