@testable import AmberCore
import AmberStore
import AmberTestSupport
import Foundation
import Glibc
import Testing

/// `amber store repair`: damaged chunks of a snapshot that was taken out for a clone come back from the
/// restore cache; a snapshot nobody took out and an image cannot be repaired by it, and it says what to do.
@Suite("Store repair", .serialized, .enabled(if: FileManager.default.fileExists(atPath: "/dev/kvm")))
struct CLIStoreRepairTests {
    /// The chunk of snapshot `id`'s memory that holds the counter guest's count (different in every snapshot).
    static func counterChunk(_ home: CLIHome, snapshot id: String) throws -> (ChunkDigest, ChunkLocation, String) {
        let context = try StoreContext(home: AmberHome(explicit: home.root.path))
        let record = try #require(try context.catalog.read { try $0.snapshot(id: id) })
        let manifest = try context.reader.manifest(try #require(record.memoryManifest.flatMap(ChunkDigest.init(bytes:))))
        let digest = manifest.digests[TinyGuest.counterAddress / manifest.chunkSize]
        let location = try context.reader.location(of: digest)
        return (digest, location, context.store.packPath(location.pack))
    }

    @Test func cachedSnapshotsAreRepairedAndTheRestIsNamedWithWhatToDo() throws {
        let home = try CLIHome()
        defer {
            for name in ["web", "c1"] { _ = try? home.amber(["stop", name, "--timeout", "5"]) }
            home.remove()
        }
        let source = try home.file("image.raw", TestContent.text(1 << 20, seed: 9))
        #expect(try home.amber(["image", "import", source, "--name", "base"]).status == 0)
        try home.startCounter("web")
        try home.waitForCount("web", above: 2)
        let cached = try home.snapshotID("web")
        let clone = try home.amber(["clone", cached, "--name", "c1", "--detach"], timeout: 120)
        #expect(clone.status == 0, "\(clone.stderr)")
        let before = try home.waitForCount("web", above: 0)
        try home.waitForCount("web", above: before)
        let uncached = try home.snapshotID("web")
        #expect(try home.amber(["store", "repair"]).status == 0, "a clean store needs no repair")

        let (cachedChunk, cachedPlace, cachedPack) = try Self.counterChunk(home, snapshot: cached)
        let (uncachedChunk, uncachedPlace, uncachedPack) = try Self.counterChunk(home, snapshot: uncached)
        #expect(cachedChunk != uncachedChunk, "the two snapshots' counts differ")
        try flipByte(at: cachedPlace.offset + UInt64(PackFormat.recordHeaderSize) + 1, in: cachedPack)
        try flipByte(at: uncachedPlace.offset + UInt64(PackFormat.recordHeaderSize) + 1, in: uncachedPack)
        let context = try StoreContext(home: AmberHome(explicit: home.root.path))
        let image = try #require(try context.catalog.read { try $0.image(named: "base") })
        let imageChunk = try context.reader.manifest(ChunkDigest(bytes: image.manifest)!).digests[3]
        let imagePlace = try context.reader.location(of: imageChunk)
        try flipByte(at: imagePlace.offset + UInt64(PackFormat.recordHeaderSize) + 1, in: context.store.packPath(imagePlace.pack))

        let repair = try home.amber(["store", "repair", "--json"], timeout: 120)
        #expect(repair.status == 1, "what could not be repaired fails the command")
        let report = try JSONDecoder().decode(RepairReport.self, from: Data(repair.stdout.utf8))
        #expect(report.found.quarantined.count >= 3)
        #expect(report.restored.map(\.owner) == ["snapshot web/\(cached)"])
        #expect(Set(report.unrepaired.keys) == ["snapshot web/\(uncached)", "image base"])
        #expect(report.unrepaired["image base"]?.contains("amber image import") == true)
        #expect(report.unrepaired["snapshot web/\(uncached)"]?.contains("amber snapshot rm \(uncached)") == true)

        // The repaired snapshot restores (taken out of the store afresh); the other cannot.
        try? FileManager.default.removeItem(at: MaterializedSnapshot.directory(AmberHome(explicit: home.root.path), id: cached))
        #expect(try home.amber(["rollback", "web", "--to", cached], timeout: 120).status == 0)
        // The image's source imported again under another name gives its chunk back; only the snapshot remains.
        #expect(try home.amber(["image", "import", source, "--name", "again"]).status == 0)
        let text = try home.amber(["store", "repair"], timeout: 120)
        #expect(text.status == 1)
        #expect(text.stdout.contains("NOT repaired: snapshot web/\(uncached)") && !text.stdout.contains("image base"), "\(text.stdout)")
        #expect(try home.amber(["snapshot", "rm", uncached]).status == 0)
        let clean = try home.amber(["store", "repair"], timeout: 120)
        #expect(clean.status == 0 && clean.stdout.contains("nothing to repair"), "\(clean.stdout)\(clean.stderr)")
        let exported = home.scratch.appendingPathComponent("base.out").path
        #expect(try home.amber(["image", "export", "base", exported]).status == 0)
        #expect(try TestContent.sha256(ofFile: exported) == TestContent.sha256(TestContent.text(1 << 20, seed: 9)))
    }
}
