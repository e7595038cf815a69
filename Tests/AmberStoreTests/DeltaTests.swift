import AmberModel
@testable import AmberStore
import AmberTestSupport
import Foundation
import Testing

extension TestStore {
    /// Ingests `bytes` with the manifest `base` names as delta base, and commits it to the index.
    func ingest(_ bytes: [UInt8], deltaBase base: ChunkDigest?, changedFraction: Double = 0.5) throws -> IngestResult {
        let manifest = try base.map { try reader.manifest($0) }
        return try index.write(to: store) { writer in
            writer.deltaMaxChangedFraction = changedFraction
            return try writer.ingest(length: UInt64(bytes.count), deltaBase: manifest) { start, buffer in
                bytes.withUnsafeBytes { raw in
                    buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[Int(start)..<(Int(start) + buffer.count)]))
                }
            }
        }
    }

    /// Appends one hand-made record and commits it, as a crafted or damaged pack would hold it.
    func appendCrafted(_ header: PackRecordHeader, payload: [UInt8], base: ChunkDigest?) throws {
        try store.write(index: index) { writer in
            try payload.withUnsafeBytes { try writer.appendRecord(header, payload: $0) }
        } commit: { sealed, _ in
            #expect(sealed.newChunks.map(\.location.base) == [base])
            index.record(sealed)
        }
    }
}

/// `bytes` with page `page` of every 64 KiB chunk overwritten by fresh random bytes.
func rewritingOnePagePerChunk(_ bytes: [UInt8], page: Int, seed: UInt64) -> [UInt8] {
    var out = bytes
    for chunk in stride(from: 0, to: bytes.count, by: 64 << 10) {
        let start = chunk + page * 4096
        out.replaceSubrange(start..<(start + 4096), with: TestContent.random(4096, seed: seed &+ UInt64(chunk)))
    }
    return out
}

@Suite struct DeltaTests {
    @Test func aChunkWithOneChangedPageIsStoredAsThatPageAndReadsBackWhole() throws {
        let test = try TestStore()
        let first = TestContent.text(1 << 20, seed: 1)
        let second = rewritingOnePagePerChunk(first, page: 3, seed: 2)
        let v1 = try test.ingest(first, deltaBase: nil)
        let v2 = try test.ingest(second, deltaBase: v1.manifest)
        #expect(v2.newChunks == 16)
        #expect(v2.deltaChunks == 16)
        // Each delta holds one incompressible page and its small header, not a whole 64 KiB chunk.
        #expect(v2.newStoredBytes < 16 * (4096 + 200) + 4096)
        #expect(try test.export(v2.manifest) == second)
        #expect(try test.export(v1.manifest) == first)
        let manifest1 = try test.reader.manifest(v1.manifest)
        let manifest2 = try test.reader.manifest(v2.manifest)
        let location = try test.reader.location(of: manifest2.digests[5])
        #expect(location.codec == .delta)
        #expect(location.base == manifest1.digests[5])
        #expect(test.reader.verify(test.index.allChunks).isEmpty)
        // Random access (a disk served from the store) across delta chunks.
        let file = try ManifestFile(reader: test.reader, root: v2.manifest)
        var window = [UInt8](repeating: 0, count: 3 * (64 << 10))
        let offset = 5 * (64 << 10) - 100
        #expect(try window.withUnsafeMutableBytes { try file.read(into: $0, at: UInt64(offset)) } == window.count)
        #expect(window == Array(second[offset..<(offset + window.count)]))
    }

    @Test func everyPageChangedIsADeltaOnlyWhenTheLimitAllowsIt() throws {
        let test = try TestStore()
        let first = TestContent.text(512 << 10, seed: 3)
        var second = first
        for page in stride(from: 0, to: second.count, by: 4096) { second[page + 17] ^= 0x5A }
        let v1 = try test.ingest(first, deltaBase: nil)
        let capped = try TestStore()
        let cappedV1 = try capped.ingest(first, deltaBase: nil)
        #expect(try capped.ingest(second, deltaBase: cappedV1.manifest).deltaChunks == 0)
        let v2 = try test.ingest(second, deltaBase: v1.manifest, changedFraction: 1.0)
        #expect(v2.deltaChunks == 8)
        #expect(try test.export(v2.manifest) == second)
        #expect(test.reader.verify(test.index.allChunks).isEmpty)
    }

    @Test func aChunkPutWithADeltaBaseIsStoredAsADelta() throws {
        let test = try TestStore()
        let old = TestContent.text(64 << 10, seed: 14)
        var new = old
        new.replaceSubrange(8192..<12288, with: TestContent.random(4096, seed: 15))
        let base = try test.index.write(to: test.store) { try $0.put(old) }
        let (digest, sealed) = try test.store.write(index: test.index) { next in
            try new.withUnsafeBytes { try next.put($0, deltaBase: base) }
        } commit: { sealed, digest in
            test.index.record(sealed)
            return (digest, sealed)
        }
        #expect(sealed.newChunks.map(\.location.codec) == [.delta])
        #expect(sealed.newChunks.map(\.location.base) == [base])
        #expect(sealed.storedBytes < 4096 + 200)
        #expect(try test.reader.chunk(digest) == new)
    }

    @Test func chainsStopAtTheDepthCapAndEveryVersionReadsBack() throws {
        let test = try TestStore()
        var versions = [TestContent.text(128 << 10, seed: 4)]
        var roots = [try test.ingest(versions[0], deltaBase: nil).manifest]
        var deltas: [Int] = []
        for step in 1...11 {
            var next = versions.last!
            // Even seeds: the generator ORs in the low bit, so seeds 2k and 2k+1 give the same bytes.
            next.replaceSubrange(4096..<8192, with: TestContent.random(4096, seed: UInt64(1000 + 2 * step)))
            let result = try test.ingest(next, deltaBase: roots.last!)
            versions.append(next)
            roots.append(result.manifest)
            deltas.append(result.deltaChunks)
        }
        // Eight deltas deep, the ninth version of the chunk is stored whole and starts a new chain.
        #expect(deltas == [1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1])
        for (version, root) in zip(versions, roots) {
            #expect(try test.export(root) == version)
        }
        let eighth = try test.reader.manifest(roots[8]).digests[0]
        let location = try test.reader.location(of: eighth)
        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: location.rawLength, alignment: 16)
        let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: StoreWriter.scratchSize(location.rawLength), alignment: 16)
        defer { bytes.deallocate(); scratch.deallocate() }
        #expect(try test.reader.read(eighth, at: location, into: bytes, scratch: scratch) == DeltaRecord.maxChainDepth)
    }

    @Test func aDamagedBaseFailsItsDeltasWithAnErrorNamingBoth() throws {
        let test = try TestStore()
        let first = TestContent.text(256 << 10, seed: 5)
        let v1 = try test.ingest(first, deltaBase: nil)
        let v2 = try test.ingest(rewritingOnePagePerChunk(first, page: 15, seed: 6), deltaBase: v1.manifest)
        let base = try test.reader.manifest(v1.manifest).digests[2]
        let delta = try test.reader.manifest(v2.manifest).digests[2]
        let baseLocation = try test.reader.location(of: base)
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: test.store.packPath(baseLocation.pack)))
        try handle.seek(toOffset: baseLocation.offset + UInt64(PackFormat.recordHeaderSize) + 100)
        try handle.write(contentsOf: Data([0xEE, 0xEE, 0xEE, 0xEE]))
        try handle.close()

        let error = #expect(throws: StoreError.self) { try test.reader.chunk(delta) }
        let message = "\(error!)"
        #expect(message.contains(delta.hex) && message.contains("its delta base \(base.hex)"))
        let defects = test.reader.verify(test.index.allChunks)
        #expect(Set(defects.map(\.digest)) == [base, delta])
    }

    @Test func aCraftedDeltaRecordIsRefusedWithoutReadingPastIt() throws {
        let test = try TestStore()
        let v1 = try test.ingest(TestContent.text(64 << 10, seed: 7), deltaBase: nil)
        let base = try test.reader.manifest(v1.manifest).digests[0]
        // The bitmap says all 16 pages changed; the record holds three.
        var payload = [UInt8](repeating: 0, count: DeltaRecord.prefixSize(64 << 10))
        payload.replaceSubrange(0..<32, with: base.bytes)
        payload[DeltaRecord.bitmapOffset] = 0xFF
        payload[DeltaRecord.bitmapOffset + 1] = 0xFF
        payload += TestContent.random(3 * 4096, seed: 8)
        let crafted = TestContent.random(64 << 10, seed: 9).withUnsafeBytes { ChunkDigest.of($0) }
        try test.appendCrafted(
            PackRecordHeader(codec: .delta, rawLength: 64 << 10, storedLength: payload.count, digest: crafted),
            payload: payload, base: base)
        let error = #expect(throws: StoreError.self) { try test.reader.chunk(crafted) }
        #expect("\(error!)".contains("bitmap says 16 pages"))

        // A record naming itself as its base ends at the chain limit instead of looping.
        var looping = [UInt8](repeating: 0, count: DeltaRecord.prefixSize(64 << 10))
        let loop = TestContent.random(64 << 10, seed: 10).withUnsafeBytes { ChunkDigest.of($0) }
        looping.replaceSubrange(0..<32, with: loop.bytes)
        looping[DeltaRecord.bitmapOffset] = 1
        looping += TestContent.random(4096, seed: 11)
        try test.appendCrafted(
            PackRecordHeader(codec: .delta, rawLength: 64 << 10, storedLength: looping.count, digest: loop),
            payload: looping, base: loop)
        let loopError = #expect(throws: StoreError.self) { try test.reader.chunk(loop) }
        #expect("\(loopError!)".contains("delta chain longer than \(DeltaRecord.maxChainDepth)"))
    }

    @Test func scanningPacksFindsDeltaBasesAndChecksDeltasOnceAllPacksAreRead() throws {
        let test = try TestStore(packTarget: 256 << 10)
        let first = TestContent.text(1 << 20, seed: 12)
        let v1 = try test.ingest(first, deltaBase: nil)
        let v2 = try test.ingest(rewritingOnePagePerChunk(first, page: 9, seed: 13), deltaBase: v1.manifest)
        #expect(v2.deltaChunks == 16)
        let scanned = try test.store.packFileNames().flatMap { try test.reader.scanPack($0).records }
        #expect(Set(scanned) == Set(test.index.allChunks))
        #expect(test.reader.checkDeltas(scanned).isEmpty)
        // Without the packs holding the bases, every delta is reported.
        let withoutBases = scanned.filter { $0.location.codec == .delta }
        #expect(test.reader.checkDeltas(withoutBases).count == 16)
    }
}
