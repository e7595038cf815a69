import Foundation
import Glibc

// The few pieces of the `amber` runner these black-box tests need. AmberCoreTests/CLITestSupport.swift has the
// same for the older CLI tests, which are moving into this target with a shared test-support target; these go then.

struct CLIResult {
    let status: Int32
    let stdout: String
    let stderr: String
}

struct CLIHome {
    static let buildDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug")
    static let amber = buildDirectory.appendingPathComponent("amber")
    static let amberd = buildDirectory.appendingPathComponent("amberd")

    let root: URL

    init() {
        root = URL(fileURLWithPath: "/tmp").appendingPathComponent("amber-cli-\(UUID().uuidString.prefix(8))")
            .appendingPathComponent("home")
    }

    func remove() {
        try? FileManager.default.removeItem(at: root.deletingLastPathComponent())
    }

    /// `amber ARGS --home ROOT`.
    func amber(_ arguments: [String], timeout: Double = 60) throws -> CLIResult {
        try Self.run(Self.amber, arguments + ["--home", root.path], timeout: timeout)
    }

    /// Every path under the home, "" for the home itself; nil when the home does not exist.
    func tree() -> [String]? {
        guard FileManager.default.fileExists(atPath: root.path) else { return nil }
        return [""] + (FileManager.default.enumerator(atPath: root.path)?.compactMap { $0 as? String }.sorted() ?? [])
    }

    static func run(_ executable: URL, _ arguments: [String], timeout: Double = 60) throws -> CLIResult {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        environment["AMBER_HOME"] = nil
        environment["AMBER_POLICIES"] = nil
        process.environment = environment
        let output = Pipe()
        let errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let watchdog = DispatchWorkItem { kill(process.processIdentifier, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
        defer { watchdog.cancel() }
        let stdout = output.fileHandleForReading.readDataToEndOfFile()
        let stderr = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CLIResult(status: process.terminationStatus, stdout: String(decoding: stdout, as: UTF8.self),
                         stderr: String(decoding: stderr, as: UTF8.self))
    }
}
