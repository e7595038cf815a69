@testable import AmberStore
import AmberSystem
import AmberTestSupport
import Foundation
import Glibc
import Synchronization
import Testing

@Suite struct RoundTripTests {
    static let kinds: [(String, [UInt8])] = [
        ("empty", []),
        ("one byte", [42]),
        ("zeros", [UInt8](repeating: 0, count: 3 << 20)),
        ("sparse", TestContent.sparse(5 << 20, seed: 1)),
        ("text", TestContent.text(2 << 20, seed: 2)),
        ("random", TestContent.random(2 << 20, seed: 3)),
        ("odd size", TestContent.random(65536 * 3 + 4097, seed: 4)),
    ]

    @Test(arguments: 0..<kinds.count)
    func exportGivesBackTheImportedBytes(kind: Int) throws {
        let (name, bytes) = Self.kinds[kind]
        let test = try TestStore()
        let result = try test.ingest(bytes)
        #expect(result.logicalBytes == UInt64(bytes.count), "\(name)")
        let exported = try test.export(result.manifest)
        #expect(TestContent.sha256(exported) == TestContent.sha256(bytes), "\(name)")
    }

    @Test func zeroChunksAreNeverStoredAndExportAsHoles() throws {
        let test = try TestStore()
        let result = try test.ingest([UInt8](repeating: 0, count: 8 << 20))
        #expect(result.zeroChunks == 128)
        #expect(result.newRawBytes == 0)
        let path = test.directory.path("holes")
        try test.reader.materialize(result.manifest, toPath: path)
        var info = stat()
        stat(path, &info)
        #expect(info.st_size == 8 << 20)
        #expect(info.st_blocks == 0, "zero chunks should be holes")
    }

    @Test func memoryIngestMatchesFileIngest() throws {
        let test = try TestStore()
        let bytes = TestContent.text(1 << 20, seed: 5) + [UInt8](repeating: 0, count: 1 << 20) + TestContent.random(100_000, seed: 6)
        let fromFile = try test.ingest(bytes)
        let memory = try MemFD.create(name: "guest", size: UInt64(bytes.count))
        let region = try MappedRegion(size: bytes.count, fd: memory)
        region.buffer.copyMemory(from: UnsafeRawBufferPointer(start: bytes, count: bytes.count))
        let fromMemory = try test.index.write(to: test.store) { try $0.ingest(buffer: UnsafeRawBufferPointer(region.buffer)) }
        #expect(fromMemory.manifest == fromFile.manifest)
        #expect(fromMemory.newChunks == 0)

        let target = try MemFD.create(name: "restored", size: 0)
        try test.reader.materialize(try test.reader.manifest(fromMemory.manifest), into: target)
        let restored = try MappedRegion(size: bytes.count, fd: target)
        #expect(Array(UnsafeRawBufferPointer(restored.buffer)) == bytes)
    }

    @Test func readingAFileWithPreadGivesTheSameManifestAsMappingIt() throws {
        let test = try TestStore()
        let bytes = TestContent.text(3 << 20, seed: 12) + [UInt8](repeating: 0, count: 1 << 20) + TestContent.random(70_000, seed: 13)
        let mapped = try test.ingest(bytes)
        let writer = try StoreWriter(store: test.store, index: test.index)
        defer { writer.finish(committed: false) }
        let read = try writer.ingest(try IngestFile(path: test.directory.path("input")), chunkSize: nil, mapping: false, progress: nil)
        #expect(read.manifest == mapped.manifest)
        #expect(read.zeroChunks == 16)
    }

    @Test func randomAccessReadsMatchTheSourceAtAnyOffset() throws {
        let test = try TestStore(chunkSize: 4096)
        let bytes = TestContent.text(100_000, seed: 8) + [UInt8](repeating: 0, count: 10_000) + TestContent.random(33_333, seed: 9)
        let result = try test.ingest(bytes)
        let file = try ManifestFile(reader: test.reader, root: result.manifest)
        #expect(file.length == UInt64(bytes.count))
        for (offset, count) in [(0, 1), (4095, 2), (4096, 4096), (99_000, 12_000), (bytes.count - 10, 100), (12_345, 70_000)] {
            var buffer = [UInt8](repeating: 0xEE, count: count)
            let read = try buffer.withUnsafeMutableBytes { try file.read(into: $0, at: UInt64(offset)) }
            let expected = Array(bytes[offset..<min(bytes.count, offset + count)])
            #expect(read == expected.count)
            #expect(Array(buffer.prefix(read)) == expected, "read of \(count) at \(offset)")
        }
    }

    @Test func concurrentRandomAccessReadsAllSeeTheRightBytes() throws {
        let test = try TestStore()
        let bytes = TestContent.text(1 << 20, seed: 14) + TestContent.random(1 << 20, seed: 15)
        let file = try ManifestFile(reader: test.reader, root: try test.ingest(bytes).manifest)
        let wrong = Atomic(0)
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            var state = UInt64(thread + 1)
            for _ in 0..<200 {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let offset = Int(state >> 33) % bytes.count
                let count = min(5000, bytes.count - offset)
                var buffer = [UInt8](repeating: 0, count: count)
                let read = (try? buffer.withUnsafeMutableBytes { try file.read(into: $0, at: UInt64(offset)) }) ?? -1
                if read != count || buffer[...] != bytes[offset..<(offset + count)] {
                    wrong.add(1, ordering: .relaxed)
                }
            }
        }
        #expect(wrong.load(ordering: .relaxed) == 0)
    }

    @Test func manifestsBiggerThanOnePieceRoundTrip() throws {
        // 4 KiB chunks: 128 digests per piece, so 3 MiB needs 6 pieces, some all-zero.
        let test = try TestStore(chunkSize: 4096)
        let bytes = TestContent.random(1 << 20, seed: 10) + [UInt8](repeating: 0, count: 2 << 20) + TestContent.text(5000, seed: 11)
        let result = try test.ingest(bytes)
        let manifest = try test.reader.manifest(result.manifest)
        #expect(manifest.digests.count == (bytes.count + 4095) / 4096)
        #expect(try test.export(result.manifest) == bytes)
    }
}
