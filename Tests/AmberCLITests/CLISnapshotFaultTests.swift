@testable import AmberCore
import AmberTestSupport
import AmberVMM
import Foundation
import Glibc
import Testing

/// Snapshots that cannot complete: the VM runs on and the catalog and store stay as they were.
@Suite("Snapshot faults", .serialized, .enabled(if: FileManager.default.fileExists(atPath: "/dev/kvm")))
struct CLISnapshotFaultTests {
    @Test(.enabled(if: StoreFullDiskTests.canMountTmpfs, "needs permission to mount a tmpfs"))
    func aFullStoreFailsTheSnapshotAndTheVMRunsOn() throws {
        let home = try CLIHome()
        try FileManager.default.createDirectory(at: home.root, withIntermediateDirectories: true)
        try #require(mount("tmpfs", home.root.path, "tmpfs", 0, "size=24m") == 0, "mount tmpfs: \(String(cString: strerror(errno)))")
        defer {
            _ = try? home.amber(["stop", "full", "--timeout", "5"])
            umount(home.root.path)
            home.remove()
        }
        let kernel = try home.file("counter.bzImage", TinyBzImage.bytes(entryCode: TinyGuest.counter))
        let run = try home.amber(["run", "full", "--kernel", kernel, "--memory", "64M", "--detach"], timeout: 30)
        try #require(run.status == 0, "\(run.stderr)")
        let first = try home.amber(["snapshot", "full"], timeout: 60)
        try #require(first.status == 0, "\(first.stderr)")

        // 40 MiB of random guest memory cannot fit in what is left of the 24 MiB store.
        let memory = try GuestMemoryWindow(try ControlClient(AmberHome(explicit: home.root.path).vm("full")).status())
        try memory.write(
            [UInt8](try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/urandom")).readData(ofLength: 40 << 20)), at: 8 << 20)

        let full = try home.amber(["snapshot", "full"], timeout: 120)
        #expect(full.status != 0)
        #expect(full.errorLine.contains("no space left"), "\(full.stderr)")
        #expect(full.stderr.split(separator: "\n").count == 1, "\(full.stderr)")
        #expect(try ControlClient(AmberHome(explicit: home.root.path).vm("full")).status().state == .running)
        let list = try home.amber(["snapshots", "full", "--json"])
        #expect(list.stdout.components(separatedBy: "\"id\"").count == 2, "one snapshot, the first: \(list.stdout)")
        #expect(try home.amber(["store", "verify"]).status == 0)
        let gc = try home.amber(["store", "gc", "--dry-run"])
        #expect(gc.stdout.hasPrefix("would free 0 B"), "the failed snapshot gave its pack bytes back: \(gc.stdout)")
    }
}
