import AmberStore
import AmberTestSupport
import Testing

@Suite struct DedupTests {
    @Test func importingTheSameBytesTwiceAddsNoChunks() throws {
        let test = try TestStore()
        let bytes = TestContent.text(4 << 20, seed: 1) + TestContent.random(4 << 20, seed: 2)
        let first = try test.ingest(bytes)
        let packBytes = try test.packBytes()
        let second = try test.ingest(bytes, name: "again")
        #expect(first.newChunks > 0)
        #expect(second.newChunks == 0)
        #expect(second.manifest == first.manifest)
        #expect(try test.packBytes() == packBytes)
    }

    @Test func repeatedChunksInsideOneImageAreStoredOnce() throws {
        let test = try TestStore()
        let block = TestContent.random(65536, seed: 3)
        let result = try test.ingest(Array([[UInt8]](repeating: block, count: 50).joined()))
        // One data chunk plus the manifest's own piece and root.
        #expect(result.newChunks == 1)
        #expect(test.index.allChunks.count == 3)
    }

    @Test func tenImagesWithFivePercentChurnGrowTheStoreByAboutHalf() throws {
        let test = try TestStore()
        let chunk = 65536
        let count = 320  // 20 MiB: text-like so compression is in play too
        var image = TestContent.text(count * chunk, seed: 4)
        try test.ingest(image)
        let base = try test.packBytes()
        for generation in 1...10 {
            let changed = TestContent.random(count, seed: UInt64(generation)).prefix(count / 20).map { Int($0) % count }
            for (n, index) in Set(changed).enumerated() {
                let replacement = TestContent.text(chunk, seed: UInt64(generation * 1000 + n))
                image.replaceSubrange(index * chunk..<(index + 1) * chunk, with: replacement)
            }
            try test.ingest(image, name: "gen\(generation)")
        }
        let growth = Double(try test.packBytes()) / Double(base)
        #expect(growth < 1.6, "store grew \(growth)x for ten 5% generations")
        #expect(growth > 1.2, "growth \(growth)x is implausibly small: were changes stored?")
    }
}
