import AmberTestSupport
import Foundation
import Glibc
import Testing
@testable import AmberDisk

/// A writer process (amber-disk-crash-writer) is killed with SIGKILL mid-stream, three times over one
/// overlay; after each kill the overlay must open, hold every round the writer acknowledged (written,
/// flushed, then printed), and show nothing but the base or a round's own bytes anywhere else.
@Suite struct OverlayCrashTests {
    static let rounds = 300

    /// Must match amber-disk-crash-writer's regions and pattern.
    static func region(_ round: Int) -> (offset: Int, count: Int) {
        (round * 20_000 + (round % 7) * 123, 12_000 + (round % 5) * 777)
    }

    static func pattern(_ round: Int, _ index: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: round &* 131 &+ index &* 7 &+ 1)
    }

    static var writerPath: String {
        URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath().deletingLastPathComponent()
            .appendingPathComponent("amber-disk-crash-writer").path
    }

    /// Runs the writer from round `first` and kills it once it has acknowledged `killAfter` rounds;
    /// returns the last acknowledged round.
    func runAndKill(base: String, overlay: String, first: Int, killAfter: Int) throws -> Int {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.writerPath)
        process.arguments = [base, overlay, "\(first)", "\(Self.rounds - 1)"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        var text = ""
        var acknowledged: [Int] = []
        while acknowledged.count < killAfter {
            let data = output.fileHandleForReading.availableData
            guard !data.isEmpty else { break }
            text += String(decoding: data, as: UTF8.self)
            acknowledged = text.split(separator: "\n", omittingEmptySubsequences: true).dropLast(text.hasSuffix("\n") ? 0 : 1).compactMap {
                Int($0)
            }
        }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal, "the writer was killed, not finished")
        return acknowledged.last ?? (first - 1)
    }

    @Test func killedWriterLeavesEveryAcknowledgedRoundAndAConsistentMap() throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.writerPath), "build the amber-disk-crash-writer product")
        let fixture = try OverlayTestFixture(chunks: 92, tail: 0)
        _ = try fixture.createOverlay()
        var random = SeededGenerator(seed: 42)
        var next = 0
        for cycle in 0..<3 {
            let killAfter = Int.random(in: 5...40, using: &random)
            let last = try runAndKill(base: fixture.basePath, overlay: fixture.overlayPath(), first: next, killAfter: killAfter)
            #expect(last >= next + killAfter - 1, "cycle \(cycle): the writer acknowledged \(last - next + 1) rounds")
            let disk = try OverlayDisk(basePath: fixture.basePath, overlayPath: fixture.overlayPath(), readOnly: true)
            let content = try disk.read(at: 0, count: Int(disk.size))
            var badAcknowledged = 0, badOther = 0
            var checkedUpTo = 0
            for round in 0..<Self.rounds {
                let (offset, count) = Self.region(round)
                if content[checkedUpTo..<offset] != fixture.baseContent[checkedUpTo..<offset] { badOther += 1 }
                for index in 0..<count {
                    let byte = content[offset + index], own = Self.pattern(round, index)
                    if round <= last {
                        if byte != own { badAcknowledged += 1 }
                    } else if byte != own && byte != fixture.baseContent[offset + index] {
                        badOther += 1
                    }
                }
                checkedUpTo = offset + count
            }
            if content[checkedUpTo...] != fixture.baseContent[checkedUpTo...] { badOther += 1 }
            #expect(badAcknowledged == 0, "cycle \(cycle): bytes of acknowledged rounds lost")
            #expect(badOther == 0, "cycle \(cycle): bytes that are neither base nor a round's own")
            next = last + 1
        }
        #expect(sameBytes(try fixture.baseOnDisk(), fixture.baseContent))
    }
}
