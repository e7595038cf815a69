import AmberTestSupport
import Foundation
import Glibc
import Testing
@testable import AmberDisk

/// A guest write that completed but was never flushed (a guest's `sync` on a raw block device sends no
/// FLUSH) must survive amber-vmm being killed: the overlay's map is committed in the background.
@Suite struct OverlayCommitterTests {
    static let written = 256 << 10

    /// Reads the overlay as a fresh process would after a crash: its committed map, no writer's memory.
    func holdsWrite(_ fixture: OverlayTestFixture) throws -> Bool {
        let disk = try OverlayDisk(basePath: fixture.basePath, overlayPath: fixture.overlayPath(), readOnly: true)
        let bytes = try disk.read(at: 0, count: Self.written)
        return bytes.indices.allSatisfy { bytes[$0] == OverlayCrashTests.pattern(0, $0) }
    }

    @Test func unflushedWriteSurvivesSIGKILLOnceCommittedInTheBackground() throws {
        let fixture = try OverlayTestFixture(chunks: 16, tail: 0)
        _ = try fixture.createOverlay()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: OverlayCrashTests.writerPath)
        process.arguments = ["--without-flush", fixture.basePath, fixture.overlayPath()]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
        let line = String(decoding: output.fileHandleForReading.availableData, as: UTF8.self)
        try #require(line.hasPrefix("written"), "the writer said \(line)")
        // The committer ticks every second; a loaded machine may take longer, so wait with a deadline.
        let deadline = Date().addingTimeInterval(20)
        while try !holdsWrite(fixture), Date() < deadline { usleep(50_000) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(try holdsWrite(fixture), "the write the writer completed is not in the overlay after SIGKILL")
        #expect(sameBytes(try fixture.baseOnDisk(), fixture.baseContent), "the base was written")
    }

    @Test func committerCommitsOnlyAfterAChangeAndStops() throws {
        let fixture = try OverlayTestFixture(chunks: 4, tail: 0)
        let disk = try fixture.createOverlay()
        let mapPath = OverlayDisk.mapPath(forOverlay: fixture.overlayPath())
        let before = try Data(contentsOf: URL(fileURLWithPath: mapPath))
        let committer = try OverlayMapCommitter(overlay: disk, interval: 0.05) { Issue.record("commit failed: \($0)") }
        try disk.write([UInt8](repeating: 7, count: 65536), at: 65536)
        let deadline = Date().addingTimeInterval(20)
        while try Data(contentsOf: URL(fileURLWithPath: mapPath)) == before, Date() < deadline { usleep(20_000) }
        committer.stop()
        let reopened = try OverlayDisk(basePath: fixture.basePath, overlayPath: fixture.overlayPath(), readOnly: true)
        #expect(reopened.overlayChunks() == [1])
    }
}
