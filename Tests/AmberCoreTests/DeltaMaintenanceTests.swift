import AmberCatalog
@testable import AmberCore
import AmberModel
import AmberStore
import AmberTestSupport
import Foundation
import Testing

/// Records `bytes` as image `name`, stored as deltas on image `base`'s chunks where few pages differ.
@discardableResult
func importDeltaImage(_ context: StoreContext, _ bytes: [UInt8], name: String, base: String?) throws -> Manifest {
    let baseManifest = try base.map { baseName -> Manifest in
        let image = try #require(try context.catalog.read { try $0.image(named: baseName) })
        return try context.reader.manifest(try #require(ChunkDigest(bytes: image.manifest)))
    }
    // Recorded in the store as `ImageService` records an import (verify reports a row without a record).
    let records = try RecordKeeper(home: context.home)
    let result = try records.undoingOnFailure {
        try context.write { writer in
            try writer.ingest(length: UInt64(bytes.count), deltaBase: baseManifest) { start, buffer in
                bytes.withUnsafeBytes { raw in
                    buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[Int(start)..<(Int(start) + buffer.count)]))
                }
            }
        } commit: { db, result in
            let image = ImageRecord(
                name: name, manifest: result.manifest.bytes, logicalBytes: Int64(bytes.count),
                storedBytes: Int64(result.newStoredBytes), chunkSize: ChunkStore.defaultChunkSize, created: Date())
            try records.recordImage(image)
            try db.insertImage(image)
            return result
        }
    }
    if base != nil { #expect(result.deltaChunks > 0) }
    return try context.reader.manifest(result.manifest)
}

/// `bytes` with one 4 KiB page of every 64 KiB chunk rewritten.
func deltaTestRewritingOnePagePerChunk(_ bytes: [UInt8], seed: UInt64) -> [UInt8] {
    var out = bytes
    for chunk in stride(from: 0, to: bytes.count, by: 64 << 10) {
        let start = chunk + 7 * 4096
        out.replaceSubrange(start..<(start + 4096), with: TestContent.random(4096, seed: seed &+ UInt64(chunk)))
    }
    return out
}

@Suite struct DeltaMaintenanceTests {
    @Test func gcKeepsABaseOnlyADeltaNeedsAndFreesBothWhenNothingDoes() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let context = try StoreContext(home: directory.home)
        let images = ImageService(context: context)
        let old = TestContent.text(1 << 20, seed: 1)
        let new = deltaTestRewritingOnePagePerChunk(old, seed: 2)
        let oldManifest = try importDeltaImage(context, old, name: "old", base: nil)
        let newManifest = try importDeltaImage(context, new, name: "new", base: "old")
        let delta = try context.reader.location(of: newManifest.digests[3])
        #expect(delta.codec == .delta && delta.base == oldManifest.digests[3])

        try images.remove(name: "old")
        let report = try context.collectGarbage(dryRun: false)
        // Only the old manifest's piece and root go: every old data chunk is a live delta's base.
        #expect(report.deadChunks == 2)
        #expect(try context.reader.location(of: oldManifest.digests[3]).codec == .lz4)
        try images.export(name: "new", to: directory.path("new.out"))
        #expect(try TestContent.sha256(ofFile: directory.path("new.out")) == TestContent.sha256(new))
        #expect(try context.verify().isClean)

        try images.remove(name: "new")
        let emptied = try context.collectGarbage(dryRun: false)
        #expect(emptied.liveChunks == 0)
        #expect(try context.catalog.read { try $0.allChunks() }.isEmpty)
        #expect(try context.store.packFileNames().isEmpty)
    }

    @Test func compactionMovesDeltasAndTheirBasesAndEverythingStillReads() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let context = try StoreContext(home: directory.home, packTarget: 512 << 10)
        let images = ImageService(context: context)
        // Text chunks (the bases) interleaved with random ones in the same packs; dropping the random
        // image leaves those packs mostly dead, so gc rewrites them, bases and all.
        let base = TestContent.text(1 << 20, seed: 3)
        var mixed: [UInt8] = []
        for chunk in stride(from: 0, to: base.count, by: 64 << 10) {
            mixed += base[chunk..<(chunk + (64 << 10))] + TestContent.random(64 << 10, seed: 100 + UInt64(chunk))
        }
        try importDeltaImage(context, mixed, name: "doomed", base: nil)
        try importDeltaImage(context, base, name: "old", base: nil)
        let new = deltaTestRewritingOnePagePerChunk(base, seed: 4)
        let newManifest = try importDeltaImage(context, new, name: "new", base: "old")
        try images.remove(name: "doomed")
        try images.remove(name: "old")

        let report = try context.collectGarbage(dryRun: false)
        #expect(report.packsRewritten >= 1)
        let rows = try context.catalog.read { try $0.allChunks() }
        #expect(rows.filter { $0.base != nil }.count == 16)
        #expect(try context.reader.location(of: newManifest.digests[0]).base != nil)
        try images.export(name: "new", to: directory.path("new.out"))
        #expect(try TestContent.sha256(ofFile: directory.path("new.out")) == TestContent.sha256(new))
        #expect(try context.verify().isClean)
    }

    @Test func verifyNamesABadBaseWithEverySnapshotRebuiltFromItAndTheDeltasItBreaks() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let context = try StoreContext(home: directory.home)
        let old = TestContent.text(512 << 10, seed: 5)
        let oldManifest = try importDeltaImage(context, old, name: "old", base: nil)
        let newManifest = try importDeltaImage(context, deltaTestRewritingOnePagePerChunk(old, seed: 6), name: "new", base: "old")
        let base = oldManifest.digests[4]
        let delta = newManifest.digests[4]
        let location = try context.reader.location(of: base)
        try flipByte(
            at: location.offset + UInt64(PackFormat.recordHeaderSize) + UInt64(location.storedLength) - 20,
            in: context.store.packPath(location.pack))

        let report = try context.verify()
        #expect(Set(report.badChunks.map(\.digest)) == [base.hex, delta.hex])
        #expect(report.badChunks.first { $0.digest == base.hex }?.dependents == ["image new", "image old"])
        let broken = try #require(report.badChunks.first { $0.digest == delta.hex })
        #expect(broken.dependents == ["image new"])
        #expect(broken.problem.contains("its delta base \(base.hex)"))
        #expect(throws: StoreError.self) { try ImageService(context: context).export(name: "new", to: directory.path("new.out")) }
    }

    @Test func rebuildIndexRestoresDeltaBasesFromTheRecords() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let context = try StoreContext(home: directory.home, packTarget: 256 << 10)
        let old = TestContent.text(1 << 20, seed: 7)
        let new = deltaTestRewritingOnePagePerChunk(old, seed: 8)
        try importDeltaImage(context, old, name: "old", base: nil)
        try importDeltaImage(context, new, name: "new", base: "old")
        let chunks = Set(try context.catalog.read { try $0.allChunks() })
        #expect(chunks.filter { $0.base != nil }.count == 16)
        try context.catalog.write { try $0.execute("DELETE FROM chunks; DELETE FROM packs") }

        let report = try context.rebuildIndex()
        #expect(report.damagedRecords == 0)
        #expect(Set(try context.catalog.read { try $0.allChunks() }) == chunks)
        try ImageService(context: context).export(name: "new", to: directory.path("new.out"))
        #expect(try TestContent.sha256(ofFile: directory.path("new.out")) == TestContent.sha256(new))
    }

    @Test func rebuildIndexLeavesOutADeltaWhoseBaseIsDamaged() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let context = try StoreContext(home: directory.home)
        let old = TestContent.text(512 << 10, seed: 9)
        let oldManifest = try importDeltaImage(context, old, name: "old", base: nil)
        let newManifest = try importDeltaImage(context, deltaTestRewritingOnePagePerChunk(old, seed: 10), name: "new", base: "old")
        let base = oldManifest.digests[2]
        let location = try context.reader.location(of: base)
        try flipByte(
            at: location.offset + UInt64(PackFormat.recordHeaderSize) + UInt64(location.storedLength) - 20,
            in: context.store.packPath(location.pack))
        try context.catalog.write { try $0.execute("DELETE FROM chunks; DELETE FROM packs") }

        let report = try context.rebuildIndex()
        // The damaged base, and the delta that cannot be rebuilt without it.
        #expect(report.damagedRecords == 2)
        let indexed = Set(try context.catalog.read { try $0.allChunks() }.map(\.digest))
        #expect(!indexed.contains(base.bytes) && !indexed.contains(newManifest.digests[2].bytes))
        #expect(indexed.contains(newManifest.digests[3].bytes))
        let verified = try context.verify()
        #expect(Set(verified.badChunks.map(\.digest)) == [base.hex, newManifest.digests[2].hex])
        #expect(verified.damaged == ["image new", "image old"])
    }
}
