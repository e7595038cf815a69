import Foundation

/// An Amber home of a test's own and a scratch directory beside it, with `amber` run against that home
/// as a user would run it.
public struct CLIHome: Sendable {
    /// Short on purpose: the control socket path inside it must fit in sockaddr_un.
    public let root: URL
    public let scratch: URL

    public init() throws {
        let base = URL(fileURLWithPath: "/tmp").appendingPathComponent("amber-cli-\(UUID().uuidString.prefix(8))")
        root = base.appendingPathComponent("home")
        scratch = base.appendingPathComponent("files")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
    }

    public func remove() {
        try? FileManager.default.removeItem(at: root.deletingLastPathComponent())
    }

    public func vmDirectory(_ name: String) -> URL { root.appendingPathComponent("vms").appendingPathComponent(name) }

    /// Runs `amber ARGS --home ROOT` and waits (at most `timeout` seconds) for it to finish, with
    /// `environment` added to this process's.
    public func amber(_ arguments: [String], timeout: Double = 60, environment: [String: String] = [:]) throws -> CLIResult {
        try AmberBinary.run(arguments + ["--home", root.path], timeout: timeout, environment: environment)
    }

    /// A file with the bzImage boot-header magic and nothing else (`TinyBzImage.headerOnly`).
    public func fakeBzImage() throws -> String {
        try file("bzImage", TinyBzImage.headerOnly)
    }

    public func file(_ name: String, _ bytes: [UInt8]) throws -> String {
        let url = scratch.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }

    /// Every file and directory under the home, relative to it: "nothing half-written" checks.
    public func contents() -> [String] {
        guard let enumerator = FileManager.default.enumerator(atPath: root.path) else { return [] }
        return enumerator.compactMap { $0 as? String }.sorted()
    }
}
