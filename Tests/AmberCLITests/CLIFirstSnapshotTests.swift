import AmberCatalog
@testable import AmberCore
import AmberModel
import AmberStore
import AmberTestSupport
import AmberDisk
import Foundation
import Glibc
import Testing

/// A VM's first snapshot reads its overlay's chunks while the guest is paused and the base image's other
/// chunks after the guest runs on (the base is never written): the stored disk is still exactly the disk
/// the guest saw at the pause.
@Suite("First snapshot of a disk", .serialized, .enabled(if: FileManager.default.fileExists(atPath: "/dev/kvm")))
struct CLIFirstSnapshotTests {
    @Test func overlayAndBaseMakeTheExactDisk() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "d1", "--timeout", "5"])
            home.remove()
        }
        let kernel = try home.file("counter.bzImage", TinyBzImage.bytes(entryCode: TinyGuest.counter))
        let base = [UInt8](try FileHandle(forReadingFrom: URL(fileURLWithPath: "/dev/urandom")).readData(ofLength: 4 << 20))
        let disk = try home.file("disk.raw", base)
        let run = ["run", "d1", "--kernel", kernel, "--memory", "64M", "--disk", disk, "--detach"]
        try #require(try home.amber(run, timeout: 30).status == 0)
        try #require(try home.amber(["stop", "d1"]).status == 0)

        // What the guest would have written, in its overlay: two chunks whole, one in part.
        let overlayPath = AmberHome(explicit: home.root.path).vm("d1").overlay(forDisk: 0).path
        var expected = base
        do {
            let overlay = try OverlayDisk(basePath: disk, overlayPath: overlayPath)
            let written = (0..<(100 << 10)).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ 3) }
            try overlay.write(written, at: (1 << 20) + 1000)
            try overlay.flush()
            expected.replaceSubrange(((1 << 20) + 1000)..<((1 << 20) + 1000 + written.count), with: written)
        }
        // A new amber-vmm has no recorded snapshot to count changes from: its first snapshot reads all.
        try #require(try home.amber(run, timeout: 30).status == 0)
        let id = try home.snapshotID("d1")

        let context = try StoreContext(home: AmberHome(explicit: home.root.path))
        let record = try #require(try context.catalog.read { try $0.snapshot(id: id) })
        let root = try #require(record.diskManifest.flatMap(ChunkDigest.init(bytes:)))
        let file = try ManifestFile(reader: context.reader, root: root)
        var stored = [UInt8](repeating: 0, count: Int(file.length))
        _ = try stored.withUnsafeMutableBytes { try file.read(into: $0, at: 0) }
        #expect(stored.count == expected.count)
        #expect(stored == expected, "the snapshot's disk is the base with the overlay's chunks over it")
    }
}
