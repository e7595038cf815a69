import Foundation
import Glibc

/// What a finished command left: its exit status and everything it printed.
public struct CLIResult: Sendable {
    public let status: Int32
    public let stdout: String
    public let stderr: String
    /// Killed by a signal (a trap, a crash) rather than exiting; `status` is then the signal number.
    public var killedBySignal = false

    public init(status: Int32, stdout: String, stderr: String, killedBySignal: Bool = false) {
        self.status = status
        self.stdout = stdout
        self.stderr = stderr
        self.killedBySignal = killedBySignal
    }

    /// The first line of standard error without its `error: ` prefix: the message itself.
    public var errorLine: String {
        let line = stderr.trimmingCharacters(in: .whitespacesAndNewlines)
        return line.hasPrefix("error: ") ? String(line.dropFirst("error: ".count)) : line
    }
}

/// Runs an executable to completion (at most `timeout` seconds) with `environment` added to this
/// process's (AMBER_HOME removed, so no test reaches the user's home), standard input empty.
public func runProcess(
    _ executable: URL, _ arguments: [String], timeout: Double = 60,
    environment extra: [String: String] = [:]
) throws -> CLIResult {
    let process = Process()
    process.executableURL = executable
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment["AMBER_HOME"] = nil
    // `amber run` and `amber clone` attach VMs to the host's network unless told otherwise; tests must not change
    // the host's network, so VMs get no NIC unless a test asks for one (inside a namespace of its own).
    environment["AMBER_NET"] = "none"
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
    return CLIResult(
        status: process.terminationStatus,
        stdout: String(decoding: stdout, as: UTF8.self),
        stderr: String(decoding: stderr, as: UTF8.self),
        killedBySignal: process.terminationReason == .uncaughtSignal)
}

public struct NotFinished: Error, CustomStringConvertible {
    public let arguments: [String]
    public let seconds: Double
    public init(arguments: [String], seconds: Double) {
        self.arguments = arguments
        self.seconds = seconds
    }
    public var description: String { "\(arguments.joined(separator: " ")) was not seen to exit within \(seconds) s" }
}

public struct MissingBinary: Error, CustomStringConvertible {
    public let path: String
    public init(path: String) { self.path = path }
    public var description: String { "\(path) is missing: run `swift build` (or `make unit-test`) before these tests" }
}

/// The `amber` executable of this build, run as a user would.
public enum AmberBinary {
    public static var path: String { BuiltProducts.amber.path }
    public static var exists: Bool { FileManager.default.isExecutableFile(atPath: path) }

    /// Runs amber with exactly `arguments` (the caller passes `--home`).
    public static func run(_ arguments: [String], timeout: Double = 60, environment: [String: String] = [:]) throws -> CLIResult {
        guard exists else { throw MissingBinary(path: path) }
        return try runProcess(BuiltProducts.amber, arguments, timeout: timeout, environment: environment)
    }

    /// Starts amber without waiting; its output is discarded.
    public static func start(_ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = BuiltProducts.amber
        process.arguments = arguments
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }
}

/// Holds an exclusive flock on a file, as a live amber-vmm does on its config.json.
public final class HeldLock {
    private var fd: Int32

    public init(_ path: String) {
        fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        precondition(fd >= 0 && flock(fd, LOCK_EX) == 0, "cannot lock \(path)")
    }

    /// What amber-vmm's exit does to its lock.
    public func release() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    deinit { release() }
}
