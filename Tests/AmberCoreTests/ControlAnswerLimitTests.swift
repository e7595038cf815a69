@testable import AmberCore
import AmberSystem
import Foundation
import Glibc
import Testing

/// `amber` reads amber-vmm's answers as bounded lines: a VMM that never sends a newline gets an error,
/// not all of `amber`'s memory.
@Suite struct ControlAnswerLimitTests {
    private func connection(serving bytes: [UInt8]) throws -> (UnixSocketConnection, UnixListener, FileDescriptor) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("amber-limit-\(getpid()).sock").path
        let listener = try UnixListener(path: path)
        let client = try UnixSocketConnection(connectingTo: path, timeout: 10)
        let served = try listener.accept()
        try served.writeAll(bytes)
        return (client, listener, served)
    }

    @Test func aLineLongerThanTheLimitThrows() throws {
        let (client, listener, served) = try connection(serving: [UInt8](repeating: UInt8(ascii: "x"), count: 3000))
        defer { listener.removePath(); _ = served }
        #expect(throws: SystemError.self) { try client.readLine(limit: 1000) }
    }

    @Test func linesWithinTheLimitAreRead() throws {
        let (client, listener, served) = try connection(serving: Array("{\"ok\":true}\n".utf8))
        defer { listener.removePath(); _ = served }
        #expect(try client.readLine(limit: 1000) == "{\"ok\":true}")
        #expect(UnixSocketConnection.maximumLineBytes > 64 << 20)
    }
}
