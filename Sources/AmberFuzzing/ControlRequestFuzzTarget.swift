#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import AmberControl
import AmberSystem
import Glibc

/// What a client sends amber-vmm's control socket, read as `ControlServer` reads it: lines from the
/// stream by `LineReader` (the first within 64 KiB, as the server asks), each decoded as a
/// `ControlRequest` by `ControlProtocol.decode`, until the stream ends or a line is refused. The input goes through a pipe, so the
/// real stream reader cuts the lines.
enum ControlRequestFuzzTarget {
    static let firstLineLimit = ControlProtocol.maximumRequestBytes
    /// A pipe is enlarged to hold this much (the default system limit); inputs are cut to what it holds.
    static let largestInput = 1 << 20
    /// F_SETPIPE_SZ, which Glibc's module leaves out (it is behind _GNU_SOURCE).
    static let setPipeSize: Int32 = 1031

    static func run(_ bytes: UnsafeRawBufferPointer) throws {
        let stream = try pipeHolding(bytes)
        let reader = LineReader(stream)
        var limit = firstLineLimit
        while true {
            let line: [UInt8]
            do {
                guard let next = try reader.readLine(limit: limit) else { return }
                line = next
            } catch {
                try requireOneLine(error, from: "the control line reader")
                return
            }
            try require(line.count <= limit + 4096, "a line of \(line.count) bytes read under a limit of \(limit)")
            limit = 1 << 20
            let request: ControlRequest
            do {
                request = try ControlProtocol.decode(ControlRequest.self, from: line)
            } catch {
                // The server refuses it in one line (badRequest or versionMismatch) and closes.
                try requireOneLine(error, from: "the control request decoder")
                return
            }
            let again = try ControlProtocol.decode(ControlRequest.self, from: try ControlProtocol.line(request).dropLast())
            try require(again == request, "a request, encoded and decoded again, differs")
        }
    }

    /// The read end of a pipe that holds `bytes` (as much as fits) and then ends.
    private static func pipeHolding(_ bytes: UnsafeRawBufferPointer) throws -> FileDescriptor {
        var ends: [Int32] = [0, 0]
        guard pipe(&ends) == 0 else { throw SystemError("pipe") }
        let reading = FileDescriptor(owning: ends[0])
        let writing = FileDescriptor(owning: ends[1])
        let capacity = max(Int(fcntl(ends[1], setPipeSize, Int32(largestInput))), 64 << 10)
        try writing.writeAll(UnsafeRawBufferPointer(rebasing: bytes.prefix(capacity)))
        return reading
    }
}
