@testable import AmberCore
import Foundation
import Glibc
import Testing

@Suite(.serialized) struct StoreFullDiskTests {
    static var canMount: Bool { getuid() == 0 && AmberBinary.exists }

    @Test(.enabled(if: canMount, "needs root (to mount a tmpfs) and the amber binary"))
    func aFullDiskGivesAClearErrorAndLeavesTheStoreIntact() throws {
        let scratch = try StoreTestDirectory()
        let mountPoint = scratch.path("small")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        guard mount("tmpfs", mountPoint, "tmpfs", 0, "size=40m") == 0 else {
            Issue.record("mount tmpfs failed: \(String(cString: strerror(errno)))")
            return
        }
        defer { umount(mountPoint) }
        let home = mountPoint + "/home"
        let first = StoreContent.random(8 << 20, seed: 1)
        try StoreContent.write(first, to: scratch.path("first"))
        try StoreContent.write(StoreContent.random(48 << 20, seed: 2), to: scratch.path("big"))
        try StoreContent.write(StoreContent.text(1 << 20, seed: 3), to: scratch.path("small-image"))

        #expect(try AmberBinary.run(["image", "import", scratch.path("first"), "--name", "first", "--home", home]).status == 0)
        let full = try AmberBinary.run(["image", "import", scratch.path("big"), "--name", "big", "--home", home])
        #expect(full.status != 0)
        #expect(full.stderr.hasPrefix("error: no space left"), "\(full.stderr)")
        #expect(full.stderr.split(separator: "\n").count == 1)

        let list = try AmberBinary.run(["image", "ls", "--home", home])
        #expect(list.stdout.contains("first") && !list.stdout.contains("big"))
        #expect(try AmberBinary.run(["store", "verify", "--home", home]).status == 0)
        #expect(try AmberBinary.run(["image", "export", "first", scratch.path("first.out"), "--home", home]).status == 0)
        #expect(try StoreContent.sha256(ofFile: scratch.path("first.out")) == StoreContent.sha256(first))
        // The failed import gave its space back: a small import fits again and nothing is left for gc.
        #expect(try AmberBinary.run(["image", "import", scratch.path("small-image"), "--name", "small", "--home", home]).status == 0)
        let gc = try AmberBinary.run(["store", "gc", "--dry-run", "--home", home])
        #expect(gc.stdout.hasPrefix("would free 0 B"), "\(gc.stdout)")
    }
}
