import AmberCatalog
@testable import AmberCore
import AmberStore
import AmberTestSupport
import Foundation
import Testing

@Suite struct ImageServiceTests {
    static let kinds: [(String, [UInt8])] = [
        ("empty", []),
        ("zeros", [UInt8](repeating: 0, count: 2 << 20)),
        ("sparse", TestContent.sparse(6 << 20, seed: 1)),
        ("text", TestContent.text(3 << 20, seed: 2)),
        ("random", TestContent.random(3 << 20, seed: 3)),
        ("odd size", TestContent.text(65536 * 5 + 12345, seed: 4)),
    ]

    @Test func everyKindOfFileExportsToIdenticalBytes() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let images = ImageService(context: try StoreContext(home: directory.home))
        for (index, (name, bytes)) in Self.kinds.enumerated() {
            let input = directory.path("in-\(index)")
            try TestContent.write(bytes, to: input)
            let report = try images.importImage(file: input, name: "image-\(index)")
            #expect(report.logicalBytes == UInt64(bytes.count), "\(name)")
        }
        // Exports from a freshly opened context: everything came from disk, not from memory.
        let reopened = ImageService(context: try StoreContext(home: directory.home))
        for (index, (name, bytes)) in Self.kinds.enumerated() {
            let output = directory.path("out-\(index)")
            try reopened.export(name: "image-\(index)", to: output)
            #expect(try TestContent.sha256(ofFile: output) == TestContent.sha256(bytes), "\(name)")
        }
        #expect(try reopened.list().map(\.name) == (0..<Self.kinds.count).map { "image-\($0)" })
    }

    @Test func importingTheSameFileTwiceAddsNoChunks() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let context = try StoreContext(home: directory.home)
        let images = ImageService(context: context)
        let input = directory.path("disk")
        try TestContent.write(TestContent.text(4 << 20, seed: 5) + TestContent.random(2 << 20, seed: 6), to: input)
        _ = try images.importImage(file: input, name: "first")
        let before = try context.statistics()
        let second = try images.importImage(file: input, name: "second")
        let after = try context.statistics()
        #expect(second.newChunks == 0)
        #expect(after.chunks == before.chunks)
        #expect(after.packFileBytes == before.packFileBytes)
        #expect(after.logicalBytes == 2 * before.logicalBytes)
    }

    @Test func tenImagesWithFivePercentChurnGrowTheStoreByAboutTenTimesFivePercent() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let context = try StoreContext(home: directory.home)
        let images = ImageService(context: context)
        let chunk = 65536, count = 400
        var image = TestContent.text(count * chunk / 2, seed: 7) + TestContent.random(count * chunk / 2, seed: 8)
        let input = directory.path("disk")
        try TestContent.write(image, to: input)
        _ = try images.importImage(file: input, name: "gen0")
        let base = try context.statistics().packFileBytes
        for generation in 1...10 {
            for n in 0..<(count / 20) {
                let index = (generation * 37 + n * 20) % count
                // Changed chunks are like the ones they replace (text stays text), as in a real disk.
                let seed = UInt64(generation * 10_000 + n)
                let replacement = index < count / 2 ? TestContent.text(chunk, seed: seed) : TestContent.random(chunk, seed: seed)
                image.replaceSubrange(index * chunk..<(index + 1) * chunk, with: replacement)
            }
            try TestContent.write(image, to: input)
            _ = try images.importImage(file: input, name: "gen\(generation)")
        }
        let growth = Double(try context.statistics().packFileBytes) / Double(base)
        #expect(growth <= 1.6, "ten 5% generations grew the store \(growth)x")
        #expect(growth >= 1.2, "growth \(growth)x: the changed chunks were not all stored")
        try images.export(name: "gen10", to: directory.path("gen10.out"))
        #expect(try TestContent.sha256(ofFile: directory.path("gen10.out")) == TestContent.sha256(image))
    }

    @Test func badInputGetsClearErrors() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let images = ImageService(context: try StoreContext(home: directory.home))
        let input = directory.path("small")
        try TestContent.write(TestContent.text(1000, seed: 9), to: input)
        _ = try images.importImage(file: input, name: "small")

        #expect(throws: ImageError.duplicateName("small")) { try images.importImage(file: input, name: "small") }
        #expect(throws: ImageError.invalidName("../evil")) { try images.importImage(file: input, name: "../evil") }
        #expect(throws: StoreError.unsupportedSource(path: directory.url.path, kind: "a directory")) {
            try images.importImage(file: directory.url.path, name: "dir")
        }
        #expect(throws: ImageError.unknownImage("nope")) { try images.export(name: "nope", to: directory.path("x")) }
        #expect(throws: ImageError.unknownImage("nope")) { try images.remove(name: "nope") }
        #expect(throws: ImageError.outputIsDirectory(directory.url.path)) { try images.export(name: "small", to: directory.url.path) }
        do {
            _ = try images.importImage(file: directory.path("missing"), name: "missing")
            Issue.record("importing a missing file succeeded")
        } catch {
            #expect("\(error)".contains("missing") && "\(error)".contains("no such file"))
        }
        // Nothing half-written: the failed imports left no image and no new chunks behind.
        #expect(try images.list().map(\.name) == ["small"])
    }

    @Test func aHomeWhoseStoreOrCatalogIsForeignIsRefused() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let home = directory.home
        try FileManager.default.createDirectory(at: home.storeDirectory, withIntermediateDirectories: true)
        try TestContent.write(Array("my holiday photos".utf8), to: home.storeDirectory.appendingPathComponent("photo.jpg").path)
        #expect(throws: StoreError.notAStore(path: home.storeDirectory.path)) { try StoreContext(home: home) }

        let other = try TemporaryDirectory(prefix: "amber-core-test")
        _ = try StoreContext(home: other.home)
        let catalog = try Catalog(path: other.home.catalogFile.path)
        try catalog.write { try $0.execute("INSERT INTO schema_migrations (name, applied) VALUES ('0100-future', 0)") }
        do {
            _ = try StoreContext(home: other.home)
            Issue.record("a catalog from a newer amber was accepted")
        } catch {
            #expect("\(error)".contains("newer amber"))
        }

        let file = try TemporaryDirectory(prefix: "amber-core-test")
        try TestContent.write([1], to: file.path("home"))
        #expect(throws: ImageError.homeIsNotADirectory(file.path("home"))) { try StoreContext(home: file.home) }
    }
}
