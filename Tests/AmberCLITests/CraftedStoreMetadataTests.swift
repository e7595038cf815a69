import AmberCatalog
@testable import AmberCore
import AmberModel
@testable import AmberStore
import AmberTestSupport
import Foundation
import Testing

/// Crafted numbers in manifests and in the catalog's index rows, through the real `amber` binary:
/// each was a trap (SIGILL) before it was checked.
@Suite("Crafted store metadata", .serialized, .enabled(if: AmberBinary.exists, "build the amber binary first: swift build"))
struct CraftedStoreMetadataTests {
    /// A home holding image `alpha` (text, so some chunks are LZ4) and its open store.
    private func homeWithImage() throws -> (CLIHome, StoreContext) {
        let home = try CLIHome()
        let source = try home.file("alpha.img", TestContent.text(256 << 10, seed: 11))
        let imported = try home.amber(["image", "import", source, "--name", "alpha"])
        try #require(imported.status == 0, "\(imported.stderr)")
        return (home, try StoreContext(home: AmberHome(explicit: home.root.path)))
    }

    /// Points image `alpha` at a crafted manifest root.
    private func craftRoot(_ context: StoreContext, chunkSize: UInt32, length: UInt64, pieces: [ChunkDigest]) throws -> ChunkDigest {
        try context.storeChunk(craftedManifestRoot(chunkSize: chunkSize, length: length, pieces: pieces)) { db, root in
            try db.statement("UPDATE images SET manifest = ? WHERE name = 'alpha'").bind(.blob(root.bytes)).run()
        }
    }

    /// Verify, gc and export of an image whose manifest is `root`: verify reports it (exit 74), gc and
    /// export refuse with one line, and the export leaves no file behind.
    private func expectEveryReaderRefuses(_ home: CLIHome, root: ChunkDigest) throws {
        let verify = try home.amber(["store", "verify"])
        #expect(!verify.killedBySignal && verify.status == 74, "verify: \(verify.status) \(verify.stderr)")
        #expect(verify.stdout.contains(root.hex) && verify.stdout.contains("image alpha"), "\(verify.stdout)")
        expectRefusal(try home.amber(["store", "gc"]), "gc", mentioning: ["image alpha", root.hex, "amber store verify"])
        let before = files(in: home.scratch)
        let output = home.scratch.appendingPathComponent("alpha.out").path
        expectRefusal(try home.amber(["image", "export", "alpha", output]), "export", mentioning: [root.hex, "amber store verify"])
        #expect(files(in: home.scratch) == before, "the export left a file")
    }

    @Test func aManifestLengthOf2To64Minus1IsRefused() throws {
        let (home, context) = try homeWithImage()
        defer { home.remove() }
        let root = try craftRoot(context, chunkSize: 65536, length: .max, pieces: [])
        try expectEveryReaderRefuses(home, root: root)
    }

    @Test func aManifestChunkSizeOf2To31IsRefusedWithoutAPartialFile() throws {
        let (home, context) = try homeWithImage()
        defer { home.remove() }
        // One chunk of 2 GiB in one zero piece: consistent in every way but its chunk size.
        let root = try craftRoot(context, chunkSize: 1 << 31, length: 1 << 31, pieces: [.zero])
        try expectEveryReaderRefuses(home, root: root)
    }

    @Test func aManifestOfMoreChunksThanMemoryHoldsIsRefused() throws {
        let (home, context) = try homeWithImage()
        defer { home.remove() }
        // 4096 zero pieces of 2^19 chunks of 16 MiB: 2^31 chunks, whose digests would take 64 GiB.
        let root = try craftRoot(context, chunkSize: 16 << 20, length: 1 << 55, pieces: Array(repeating: .zero, count: 4096))
        try expectEveryReaderRefuses(home, root: root)
    }

    /// Image sizes summed by `store stats` overflowed: the sum now stops at Int64.max.
    @Test func imageSizesThatOverflowTheirSumAreReported() throws {
        let (home, context) = try homeWithImage()
        defer { home.remove() }
        let other = try home.file("beta.img", TestContent.random(128 << 10, seed: 13))
        #expect(try home.amber(["image", "import", other, "--name", "beta"]).status == 0)
        try context.catalog.write { try $0.execute("UPDATE images SET logical_bytes = 9223372036854775807") }
        let stats = try home.amber(["store", "stats", "--json"])
        #expect(!stats.killedBySignal && stats.status == 0, "stats: \(stats.status) \(stats.stderr)")
        #expect(try JSONDecoder().decode(StoreStatistics.self, from: Data(stats.stdout.utf8)).logicalBytes == .max)
    }

    /// A number no record can have in one column of a chunk row: export, verify and gc refuse naming
    /// the chunk and `rebuild-index`, after which the image exports again.
    @Test(arguments: [
        ("offset", "-1"), ("offset", "9223372036854775807"), ("stored_length", "-5"),
        ("raw_length", "1099511627776"), ("codec", "7"),
    ])
    func anImpossibleChunkRowIsRefused(column: String, value: String) throws {
        let (home, context) = try homeWithImage()
        defer { home.remove() }
        let row = try #require(try context.catalog.read { try $0.allChunks() }.first { $0.rawLength == 65536 })
        let hex = row.digest.map { String(format: "%02x", $0) }.joined()
        try context.catalog.write { db in
            try db.statement("UPDATE chunks SET \(column) = \(value) WHERE digest = ?").bind(.blob(row.digest)).run()
        }
        let output = home.scratch.appendingPathComponent("alpha.out").path
        let needles = ["chunk \(hex)", "amber store rebuild-index"]
        let before = files(in: home.scratch)
        expectRefusal(try home.amber(["image", "export", "alpha", output]), "export", mentioning: needles)
        #expect(files(in: home.scratch) == before, "the export left a file")
        expectRefusal(try home.amber(["store", "verify"]), "verify", mentioning: needles)
        expectRefusal(try home.amber(["store", "gc"]), "gc", mentioning: needles)

        // What the error says to do works.
        #expect(try home.amber(["store", "rebuild-index"]).status == 0)
        let export = try home.amber(["image", "export", "alpha", output])
        #expect(export.status == 0, "\(export.stderr)")
    }

    /// A pack length below the file header, or short of the pack's records (import and gc cut packs
    /// back to it, destroying them): import and gc refuse naming the pack or its chunk.
    @Test(arguments: ["-1", "0", "100"])
    func anImpossiblePackLengthIsRefused(length: String) throws {
        let (home, context) = try homeWithImage()
        defer { home.remove() }
        let pack = try #require(try context.catalog.read { try $0.packs() }.first)
        try context.catalog.write { db in
            try db.statement("UPDATE packs SET length = \(length) WHERE name = ?").bind(.text(pack.name)).run()
        }
        let needles = ["pack \(pack.name)", "amber store rebuild-index"]
        let packPath = context.store.packPath(pack.name)
        let size = try #require(try FileManager.default.attributesOfItem(atPath: packPath)[.size] as? NSNumber)
        let other = try home.file("beta.img", TestContent.random(128 << 10, seed: 12))
        expectRefusal(try home.amber(["image", "import", other, "--name", "beta"]), "import", mentioning: needles)
        expectRefusal(try home.amber(["store", "gc"]), "gc", mentioning: needles)
        #expect(try FileManager.default.attributesOfItem(atPath: packPath)[.size] as? NSNumber == size, "the pack was cut")

        #expect(try home.amber(["store", "rebuild-index"]).status == 0)
        let imported = try home.amber(["image", "import", other, "--name", "beta"])
        #expect(imported.status == 0, "\(imported.stderr)")
    }

    /// A pack name in the catalog becomes a path under packs/: one that climbs out of it (to a file of the
    /// user's, here `files/victim.pack` beside the home) is refused by every reader and writer, and the file
    /// outside is neither read nor cut.
    @Test func aPackNameThatLeavesThePacksDirectoryIsRefused() throws {
        let (home, context) = try homeWithImage()
        defer { home.remove() }
        let victim = home.scratch.appendingPathComponent("victim.pack")
        let bait = Data(repeating: 0x41, count: 4096)
        try bait.write(to: victim)
        let pack = try #require(try context.catalog.read { try $0.packs() }.first)
        let crafted = "../../../files/victim"
        #expect(URL(fileURLWithPath: context.store.packPath(crafted)).standardizedFileURL.path == victim.standardizedFileURL.path)
        try context.catalog.write { db in
            try db.statement("INSERT INTO packs (name, length) SELECT ?, length FROM packs WHERE name = ?").bind(
                .text(crafted), .text(pack.name)
            ).run()
            try db.statement("UPDATE chunks SET pack = ? WHERE pack = ?").bind(.text(crafted), .text(pack.name)).run()
            try db.statement("DELETE FROM packs WHERE name = ?").bind(.text(pack.name)).run()
        }
        let needles = ["not 16 hex digits", "amber store rebuild-index"]
        let output = home.scratch.appendingPathComponent("alpha.out").path
        expectRefusal(try home.amber(["image", "export", "alpha", output]), "export", mentioning: needles)
        let other = try home.file("beta.img", TestContent.random(128 << 10, seed: 13))
        expectRefusal(try home.amber(["image", "import", other, "--name", "beta"]), "import", mentioning: needles)
        expectRefusal(try home.amber(["store", "gc"]), "gc", mentioning: needles)
        expectRefusal(try home.amber(["store", "verify"]), "verify", mentioning: needles)
        #expect(try Data(contentsOf: victim) == bait, "the file outside the store was changed")
    }

    /// A record of a codec this Amber does not know, behind a header whose checksum holds (a newer Amber
    /// wrote it): rebuilding the index refuses with one line instead of treating the rest of the pack as a
    /// torn tail, which gc would then cut off.
    @Test func aPackRecordOfANewerCodecStopsAnIndexRebuild() throws {
        let (home, context) = try homeWithImage()
        defer { home.remove() }
        let pack = try #require(try context.catalog.read { try $0.packs() }.first)
        let path = context.store.packPath(pack.name)
        var header = [UInt8](repeating: 0, count: PackFormat.recordHeaderSize)
        withUnsafeBytes(of: PackFormat.recordMagic.littleEndian) { header.replaceSubrange(0..<4, with: $0) }
        header[4] = 9  // codec 9: nobody's yet
        withUnsafeBytes(of: UInt32(16).littleEndian) { header.replaceSubrange(8..<12, with: $0) }
        withUnsafeBytes(of: UInt32(16).littleEndian) { header.replaceSubrange(12..<16, with: $0) }
        let checksum = header.withUnsafeBytes { PackRecordHeader.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<48])) }
        withUnsafeBytes(of: checksum.littleEndian) { header.replaceSubrange(48..<56, with: $0) }
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(header + [UInt8](repeating: 7, count: 16)))
        try handle.close()
        let size = try #require(try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)

        expectRefusal(
            try home.amber(["store", "rebuild-index"]), "rebuild-index",
            mentioning: ["pack \(pack.name)", "unknown codec", "newer Amber"])
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber == size, "the pack was cut")
    }
}
