import AmberSystem
import Foundation
import Glibc
import Testing

@Suite struct TemporaryFileTests {
    /// The pid of a process that has ended (and been reaped).
    static func endedProcess() throws -> pid_t {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    @Test func aNewReplacementRemovesTheTemporaryFilesOfEndedWritersOnly() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("amber-tmp-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let target = directory.appendingPathComponent("memory").path
        let ended = try Self.endedProcess()
        let names = [
            "memory.amber-partial-\(ended)", "memory.amber-partial-1", "memory.amber-partial-\(getpid())",
            "other.amber-partial-\(ended)", "memory.amber-partial-x",
        ]
        for name in names { _ = FileManager.default.createFile(atPath: directory.appendingPathComponent(name).path, contents: Data([1])) }

        let temporary = TemporaryFile.path(replacing: target)
        #expect(temporary == target + ".amber-partial-\(getpid())")
        let left = Set(try FileManager.default.contentsOfDirectory(atPath: directory.path))
        // Only the ended writer's file of this path goes: pid 1 is alive, this process's own is in use, and
        // other paths and names that are no pid are not this writer's business.
        #expect(left == Set(names.dropFirst()))
    }
}
