@testable import AmberStore
import AmberTestSupport
import Foundation
import Glibc
import Testing

@Suite struct IntegrityTests {
    @Test func aFlippedPayloadByteIsCaughtByReadsExportsAndVerify() throws {
        let test = try TestStore()
        let good = try test.ingest(TestContent.random(1 << 20, seed: 1), name: "good")
        let victim = try test.ingest(TestContent.text(1 << 20, seed: 2), name: "victim")
        let manifest = try test.reader.manifest(victim.manifest)
        let target = manifest.digests[3]
        let location = try test.reader.location(of: target)
        try flipByte(at: location.offset + UInt64(PackFormat.recordHeaderSize) + 5, in: test.store.packPath(location.pack))

        #expect(throws: StoreError.self) { try test.reader.chunk(target) }
        do {
            _ = try test.export(victim.manifest, name: "victim.out")
            Issue.record("export of corrupt data succeeded")
        } catch let error as StoreError {
            guard case .corruptChunk(let digest, _, _, _) = error else { Issue.record("unexpected \(error)"); return }
            #expect(digest == target)
            #expect("\(error)".contains(target.hex))
        }
        #expect(!FileManager.default.fileExists(atPath: test.directory.path("victim.out")), "a failed export left a file")
        #expect(try test.export(good.manifest, name: "good.out") == TestContent.random(1 << 20, seed: 1))

        let defects = test.reader.verify(test.index.allChunks)
        #expect(defects.map(\.digest) == [target])
    }

    @Test func scanningPacksFindsEveryCommittedChunkAndStopsAtATornTail() throws {
        let test = try TestStore(packTarget: 1 << 20)
        try test.ingest(TestContent.text(3 << 20, seed: 3))
        try test.ingest(TestContent.random(2 << 20, seed: 4), name: "second")
        let packs = try test.store.packFileNames()
        #expect(packs.count > 1, "a 1 MiB pack target should have rolled over")

        let torn = packs[0]
        let path = test.store.packPath(torn)
        let sizeBefore = try FileManager.default.attributesOfItem(atPath: path)[.size] as! UInt64
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(TestContent.random(100, seed: 5)))
        try handle.close()

        var found = Set<StoredChunk>()
        for name in packs {
            let scan = try test.reader.scanPack(name)
            found.formUnion(scan.records)
            #expect(scan.damaged.isEmpty)
            if name == torn {
                #expect(scan.validLength == sizeBefore)
                #expect(scan.stopReason != nil)
            } else {
                #expect(scan.validLength == scan.fileLength)
            }
        }
        #expect(found == Set(test.index.allChunks))
    }

    @Test func anUncommittedWriterGivesItsSpaceBack() throws {
        let test = try TestStore()
        try test.ingest(TestContent.text(1 << 20, seed: 6))
        let before = try test.packBytes()
        let packs = try test.store.packFileNames()

        let input = test.directory.path("more")
        try Data(TestContent.random(2 << 20, seed: 7)).write(to: URL(fileURLWithPath: input))
        let writer = try StoreWriter(store: test.store, index: test.index)
        _ = try writer.ingest(file: input)
        _ = try writer.seal()
        #expect(try test.packBytes() > before)
        writer.finish(committed: false)
        #expect(try test.packBytes() == before)
        #expect(try test.store.packFileNames() == packs)
    }

    @Test func aNewWriterCutsOffBytesACrashedWriterLeftAndAppendsToTheSamePack() throws {
        let test = try TestStore()
        let first = try test.ingest(TestContent.text(1 << 20, seed: 8))
        let pack = try #require(try test.store.packFileNames().first)
        let committed = try #require(try test.index.packExtents().first { $0.name == pack }).length
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: test.store.packPath(pack)))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data(TestContent.random(5000, seed: 9)))
        try handle.close()

        let second = try test.ingest(TestContent.random(1 << 20, seed: 10), name: "second")
        #expect(try test.store.packFileNames() == [pack])
        let scan = try test.reader.scanPack(pack)
        #expect(scan.validLength == scan.fileLength)
        #expect(scan.records.contains { $0.location.offset == committed })
        #expect(try test.export(first.manifest) == TestContent.text(1 << 20, seed: 8))
        #expect(try test.export(second.manifest, name: "2") == TestContent.random(1 << 20, seed: 10))
    }
}
