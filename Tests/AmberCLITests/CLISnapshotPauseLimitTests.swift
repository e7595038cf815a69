import AmberControl
@testable import AmberCore
import AmberTestSupport
import AmberVMM
import Foundation
import Glibc
import Testing

/// A snapshot client that stalls while it keeps the guest paused (here: stopped with SIGSTOP, as Ctrl-Z
/// does) cannot hold the guest hostage: amber-vmm resumes it after the pause limit and abandons the
/// snapshot, which is recorded nowhere; the next snapshot works.
@Suite("Snapshot pause limit", .serialized, .enabled(if: FileManager.default.fileExists(atPath: "/dev/kvm")))
struct CLISnapshotPauseLimitTests {
    private func status(_ home: CLIHome, _ name: String) throws -> VMStatus {
        try ControlClient(AmberHome(explicit: home.root.path).vm(name)).status()
    }

    @Test func aStoppedSnapshotClientReleasesTheGuestWithinTheLimit() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "p1", "--timeout", "5"])
            home.remove()
        }
        // A first snapshot reads its 256 MiB random disk while the guest is paused: long enough to catch.
        let kernel = try home.file("counter.bzImage", TinyBzImage.bytes(entryCode: TinyGuest.counter))
        let disk = try home.file(
            "disk.raw", [UInt8](try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/urandom")).readData(ofLength: 256 << 20)))
        let run = try home.amber(["run", "p1", "--kernel", kernel, "--memory", "64M", "--disk", disk, "--detach"], timeout: 30)
        try #require(run.status == 0, "\(run.stderr)")

        let client = Process()
        client.executableURL = BuiltProducts.amber
        client.arguments = ["snapshot", "p1", "--home", home.root.path]
        client.standardOutput = FileHandle.nullDevice
        client.standardError = FileHandle.nullDevice
        try client.run()
        defer { kill(client.processIdentifier, SIGKILL); client.waitUntilExit() }
        let caughtBy = Date().addingTimeInterval(60)
        while client.isRunning, (try? status(home, "p1").state) != .paused, Date() < caughtBy { usleep(1_000) }
        kill(client.processIdentifier, SIGSTOP)
        try #require(try status(home, "p1").state == .paused, "the snapshot was not caught keeping the guest paused")

        let resume = try home.amber(["resume", "p1"])
        #expect(resume.status == 75, "busy, retry: \(resume.stderr)")
        #expect(resume.errorLine.contains("paused for a snapshot by process \(client.processIdentifier)"), "\(resume.errorLine)")

        let released = Date().addingTimeInterval(60)
        while (try? status(home, "p1").state) != .running, Date() < released { usleep(20_000) }
        #expect(try status(home, "p1").state == .running, "the guest still paused after the limit")
        // amber-vmm resumes the guest first and then logs why, so the line may follow the state by a moment.
        let logPath = AmberHome(explicit: home.root.path).vm("p1").vmmLog
        let readLog = { (try? String(contentsOf: logPath, encoding: .utf8)) ?? "" }
        #expect(eventually(within: 30) { readLog().contains("the snapshot is abandoned") }, "\(readLog().suffix(500))")

        kill(client.processIdentifier, SIGKILL)
        client.waitUntilExit()
        let listed = try home.amber(["snapshots", "p1", "--json"])
        #expect(listed.status == 0 && listed.stdout.filter { !$0.isWhitespace } == "[]", "recorded: \(listed.stdout)")
        // amber-vmm ends the abandoned snapshot once it sees the killed client's connection close.
        var next = try home.amber(["snapshot", "p1"], timeout: 120)
        let settled = Date().addingTimeInterval(30)
        while next.errorLine.contains("is already being taken"), Date() < settled {
            #expect(next.status == 75, "busy, retry: \(next.stderr)")
            usleep(50_000)
            next = try home.amber(["snapshot", "p1"], timeout: 120)
        }
        #expect(next.status == 0, "\(next.stderr)")
        #expect(try status(home, "p1").state == .running)
    }
}
