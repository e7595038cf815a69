@testable import AmberCore
import AmberTestSupport
import Foundation
import Glibc
import Testing

@Suite(.serialized) struct StoreFullDiskTests {
    /// Root alone is not enough inside some containers: try a mount.
    static let canMountTmpfs: Bool = {
        guard getuid() == 0, let probe = try? TemporaryDirectory(prefix: "amber-core-test") else { return false }
        guard mount("tmpfs", probe.url.path, "tmpfs", 0, "size=1m") == 0 else { return false }
        umount(probe.url.path)
        return true
    }()

    @Test(.enabled(if: canMountTmpfs && AmberBinary.exists, "needs permission to mount a tmpfs, and the amber binary"))
    func aFullDiskGivesAClearErrorAndLeavesTheStoreIntact() throws {
        let scratch = try TemporaryDirectory(prefix: "amber-core-test")
        let mountPoint = scratch.path("small")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try #require(mount("tmpfs", mountPoint, "tmpfs", 0, "size=40m") == 0, "mount tmpfs: \(String(cString: strerror(errno)))")
        defer { umount(mountPoint) }
        let home = mountPoint + "/home"
        let first = TestContent.random(8 << 20, seed: 1)
        try TestContent.write(first, to: scratch.path("first"))
        try TestContent.write(TestContent.random(48 << 20, seed: 2), to: scratch.path("big"))
        try TestContent.write(TestContent.text(1 << 20, seed: 3), to: scratch.path("small-image"))

        #expect(try AmberBinary.run(["image", "import", scratch.path("first"), "--name", "first", "--home", home]).status == 0)
        let full = try AmberBinary.run(["image", "import", scratch.path("big"), "--name", "big", "--home", home])
        #expect(full.status != 0)
        #expect(full.stderr.hasPrefix("error: no space left"), "\(full.stderr)")
        #expect(full.stderr.split(separator: "\n").count == 1)

        let list = try AmberBinary.run(["image", "ls", "--home", home])
        #expect(list.stdout.contains("first") && !list.stdout.contains("big"))
        #expect(try AmberBinary.run(["store", "verify", "--home", home]).status == 0)
        #expect(try AmberBinary.run(["image", "export", "first", scratch.path("first.out"), "--home", home]).status == 0)
        #expect(try TestContent.sha256(ofFile: scratch.path("first.out")) == TestContent.sha256(first))
        // The failed import gave its space back: a small import fits again and nothing is left for gc.
        #expect(try AmberBinary.run(["image", "import", scratch.path("small-image"), "--name", "small", "--home", home]).status == 0)
        let gc = try AmberBinary.run(["store", "gc", "--dry-run", "--home", home])
        #expect(gc.stdout.hasPrefix("would free 0 B"), "\(gc.stdout)")
    }
}
