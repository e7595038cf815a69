import AmberCatalog
@testable import AmberCore
import AmberModel
import AmberStore
import AmberTestSupport
import Foundation
import Glibc
import Testing

@Suite struct StoreMaintenanceTests {
    @Test func aFlippedByteIsNamedByVerifyWithItsImageAndOnlyThatImageFailsToExport() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let context = try StoreContext(home: directory.home)
        let images = ImageService(context: context)
        try TestContent.write(TestContent.random(2 << 20, seed: 1), to: directory.path("a"))
        try TestContent.write(TestContent.text(2 << 20, seed: 2), to: directory.path("b"))
        _ = try images.importImage(file: directory.path("a"), name: "healthy")
        _ = try images.importImage(file: directory.path("b"), name: "victim")
        #expect(try context.verify().isClean)

        let image = try #require(try context.catalog.read { try $0.image(named: "victim") })
        let manifest = try context.reader.manifest(ChunkDigest(bytes: image.manifest)!)
        let target = manifest.digests[10]
        let location = try context.reader.location(of: target)
        try flipByte(at: location.offset + 60, in: context.store.packPath(location.pack))

        // A snapshot sharing the victim's manifest is named too.
        try context.catalog.write { db in
            try db.insertVM(VMRecord(name: "web", config: "{}", created: Date()))
            try db.insertSnapshot(
                SnapshotRecord(
                    id: "s1", vm: "web", created: Date(), kind: "disk", diskManifest: image.manifest,
                    logicalBytes: 0, storedBytes: 0, pauseMicroseconds: 0))
        }
        do {
            try images.export(name: "victim", to: directory.path("victim.out"))
            Issue.record("exporting corrupt data succeeded")
        } catch {
            #expect("\(error)".contains(target.hex) && "\(error)".contains("corrupt"))
        }
        let report = try context.verify()
        #expect(report.badChunks.map(\.digest) == [target.hex])
        #expect(report.badChunks.first?.dependents == ["image victim", "snapshot web/s1"])
        #expect(report.damaged == ["image victim", "snapshot web/s1"])
        #expect(report.quarantined == [target.hex])
        do {
            try images.export(name: "victim", to: directory.path("victim.out"))
            Issue.record("exporting a quarantined chunk succeeded")
        } catch {
            #expect("\(error)".contains(target.hex), "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: directory.path("victim.out")))
        try images.export(name: "healthy", to: directory.path("healthy.out"))
        #expect(try TestContent.sha256(ofFile: directory.path("healthy.out")) == TestContent.sha256(TestContent.random(2 << 20, seed: 1)))
    }

    /// A damaged chunk is quarantined by verify: the next import of the same content stores it again
    /// (instead of deduplicating against the damaged copy), and then verify is clean and the damaged
    /// image exports exactly. The quarantined place is listed for index rebuilds.
    @Test func aQuarantinedChunkIsStoredAgainByTheNextImportOfItsContent() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let context = try StoreContext(home: directory.home)
        let images = ImageService(context: context)
        let content = TestContent.text(2 << 20, seed: 5)
        try TestContent.write(content, to: directory.path("a"))
        _ = try images.importImage(file: directory.path("a"), name: "first")
        let image = try #require(try context.catalog.read { try $0.image(named: "first") })
        let target = try context.reader.manifest(ChunkDigest(bytes: image.manifest)!).digests[7]
        let location = try context.reader.location(of: target)
        try flipByte(at: location.offset + 60, in: context.store.packPath(location.pack))

        let report = try context.verify()
        #expect(report.quarantined == [target.hex] && !report.isClean)
        #expect(try ChunkQuarantine(store: context.store).places() == [ChunkQuarantine.Place(pack: location.pack, offset: location.offset)])
        _ = try images.importImage(file: directory.path("a"), name: "again")
        #expect(try context.reader.location(of: target) != location, "the content was stored afresh")
        #expect(try context.verify().isClean)
        try images.export(name: "first", to: directory.path("first.out"))
        #expect(try TestContent.sha256(ofFile: directory.path("first.out")) == TestContent.sha256(content))
    }

    @Test func gcFreesWhatNothingReferencesRewritesSparsePacksAndKeepsTheRest() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let context = try StoreContext(home: directory.home, packTarget: 1 << 20)
        let images = ImageService(context: context)
        let kept = TestContent.random(3 << 20, seed: 3) + TestContent.text(1 << 20, seed: 4)
        // Interleave two images' chunks in the same packs: import them as one file first, then separately.
        try TestContent.write(TestContent.random(3 << 20, seed: 5), to: directory.path("doomed"))
        try TestContent.write(kept, to: directory.path("kept"))
        _ = try images.importImage(file: directory.path("doomed"), name: "doomed")
        _ = try images.importImage(file: directory.path("kept"), name: "kept")
        let before = try context.statistics()

        #expect(try context.collectGarbage(dryRun: false).deadChunks == 0)
        try images.remove(name: "doomed")
        let dry = try context.collectGarbage(dryRun: true)
        #expect(dry.deadChunks >= 48)
        #expect(try context.statistics().packFileBytes == before.packFileBytes, "a dry run freed something")
        let report = try context.collectGarbage(dryRun: false)
        #expect(report.bytesFreed == dry.bytesFreed)
        // Packs mostly live keep their few dead bytes until they get sparser; most of 3 MiB comes back now.
        #expect(report.bytesFreed >= 5 << 19)
        #expect(report.packsDeleted + report.packsRewritten >= 2)
        let after = try context.statistics()
        #expect(after.packFileBytes == before.packFileBytes - Int64(report.bytesFreed))
        #expect(try context.verify().isClean)
        try images.export(name: "kept", to: directory.path("kept.out"))
        #expect(try TestContent.sha256(ofFile: directory.path("kept.out")) == TestContent.sha256(kept))
        #expect(try context.collectGarbage(dryRun: false).bytesFreed == 0)
    }

    @Test func gcReclaimsOrphanPacksAndTornTails() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let context = try StoreContext(home: directory.home)
        let images = ImageService(context: context)
        try TestContent.write(TestContent.text(1 << 20, seed: 6), to: directory.path("img"))
        _ = try images.importImage(file: directory.path("img"), name: "img")
        let pack = try #require(try context.store.packFileNames().first)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: context.store.packPath(pack)))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(TestContent.random(10_000, seed: 7)))
        try handle.close()
        try TestContent.write(TestContent.random(20_000, seed: 8), to: context.store.packPath("00000000deadbeef"))

        let report = try context.collectGarbage(dryRun: false)
        #expect(report.orphanPacks == 1)
        #expect(report.tornTailBytes == 10_000)
        #expect(report.bytesFreed == 30_000)
        #expect(try context.store.packFileNames() == [pack])
        #expect(try context.verify().isClean)
    }

    @Test func gcWaitsForAWriterInProgressAndNeverFreesWhatItReferences() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let context = try StoreContext(home: directory.home)
        let images = ImageService(context: context)
        let bytes = TestContent.random(2 << 20, seed: 9)
        try TestContent.write(bytes, to: directory.path("img"))
        _ = try images.importImage(file: directory.path("img"), name: "old")
        try images.remove(name: "old")

        let gcDone = DispatchSemaphore(value: 0)
        let gcResult = GCResultBox()
        try context.write { writer in
            // A writer finds every chunk already stored (the removed image's, now unreferenced) ...
            let result = try writer.ingest(file: directory.path("img"))
            #expect(result.newChunks == 0)
            // ... and gc starting now must wait until the writer has committed its reference.
            let gcWaiting = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                gcResult.set(Result { try context.collectGarbage(dryRun: false) { _ in gcWaiting.signal() } })
                gcDone.signal()
            }
            #expect(gcWaiting.wait(timeout: .now() + 10) == .success, "gc did not say it was waiting for the writer")
            #expect(gcDone.wait(timeout: .now() + 0.5) == .timedOut, "gc ran while a writer held the lease")
            return result
        } commit: { db, result in
            try db.insertImage(
                ImageRecord(
                    name: "new", manifest: result.manifest.bytes, logicalBytes: Int64(result.logicalBytes),
                    storedBytes: 0, chunkSize: 65536, created: Date()))
        }
        #expect(gcDone.wait(timeout: .now() + 30) == .success)
        #expect(try gcResult.get().deadChunks == 0)
        try images.export(name: "new", to: directory.path("new.out"))
        #expect(try TestContent.sha256(ofFile: directory.path("new.out")) == TestContent.sha256(bytes))
    }

    @Test func aLiveLeaseKeepsItsManifestAlive() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let context = try StoreContext(home: directory.home)
        let images = ImageService(context: context)
        try TestContent.write(TestContent.text(1 << 20, seed: 10), to: directory.path("img"))
        _ = try images.importImage(file: directory.path("img"), name: "img")
        let manifest = try #require(try context.catalog.read { try $0.image(named: "img") }).manifest
        let lease = try context.catalog.write { try $0.insertLease(purpose: "clone", manifest: manifest) }
        try images.remove(name: "img")
        #expect(try context.collectGarbage(dryRun: false).deadChunks == 0)
        // A lease whose holder died pins nothing, and gc clears it away.
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        try context.catalog.write {
            try $0.statement("UPDATE leases SET holder_pid = ? WHERE id = ?")
                .bind(.integer(Int64(finished.processIdentifier)), .integer(lease)).run()
        }
        #expect(try context.collectGarbage(dryRun: false).deadChunks > 0)
        #expect(try context.catalog.read { try $0.leases() }.isEmpty)
    }

    @Test func rebuildIndexRecoversTheCatalogFromThePacks() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let context = try StoreContext(home: directory.home, packTarget: 1 << 20)
        let images = ImageService(context: context)
        let bytes = TestContent.text(3 << 20, seed: 11) + TestContent.random(1 << 20, seed: 12)
        try TestContent.write(bytes, to: directory.path("img"))
        _ = try images.importImage(file: directory.path("img"), name: "img")
        let chunks = Set(try context.catalog.read { try $0.allChunks() })
        try context.catalog.write { try $0.execute("DELETE FROM chunks; DELETE FROM packs") }
        #expect(throws: (any Error).self) { try images.export(name: "img", to: directory.path("broken")) }

        let report = try context.rebuildIndex()
        #expect(report.chunks == chunks.count)
        #expect(report.damagedRecords == 0)
        #expect(Set(try context.catalog.read { try $0.allChunks() }) == chunks)
        try images.export(name: "img", to: directory.path("img.out"))
        #expect(try TestContent.sha256(ofFile: directory.path("img.out")) == TestContent.sha256(bytes))
    }
}

final class GCResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var result: Result<GarbageCollectionReport, Error>?

    func set(_ value: Result<GarbageCollectionReport, Error>) {
        lock.lock(); result = value; lock.unlock()
    }

    func get() throws -> GarbageCollectionReport {
        lock.lock(); defer { lock.unlock() }
        return try result!.get()
    }
}
