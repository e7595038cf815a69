import AmberCatalog
@testable import AmberCore
import AmberTestSupport
import Foundation
import Testing

@Suite struct ImageCommandTests {
    /// Runs amber expecting failure with one clear line on stderr that mentions `needle`.
    func expectClearError(_ arguments: [String], mentioning needle: String) throws {
        let result = try AmberBinary.run(arguments)
        #expect([1, 64, 65].contains(result.status), "\(arguments): exit \(result.status)")
        #expect(result.stderr.hasPrefix("error: "), "\(result.stderr)")
        #expect(result.stderr.split(separator: "\n").count == 1, "\(result.stderr)")
        #expect(result.stderr.contains(needle), "\(result.stderr)")
    }

    @Test(.enabled(if: AmberBinary.exists, "build the amber binary first: swift build --product amber"))
    func badInputGetsOneClearLineAndExitStatusOne() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let home = directory.path("home")
        try TestContent.write(TestContent.text(100_000, seed: 1), to: directory.path("kernel"))
        #expect(try AmberBinary.run(["image", "import", directory.path("kernel"), "--name", "kernel", "--home", home]).status == 0)

        try expectClearError(["image", "import", directory.path("missing"), "--name", "m", "--home", home], mentioning: "no such file")
        try expectClearError(["image", "import", directory.url.path, "--name", "d", "--home", home], mentioning: "not a regular file")
        try expectClearError(
            ["image", "import", directory.path("kernel"), "--name", "kernel", "--home", home], mentioning: "already exists")
        try expectClearError(["image", "export", "nope", directory.path("out"), "--home", home], mentioning: "no image named 'nope'")
        try expectClearError(["image", "rm", "nope", "--home", home], mentioning: "no image named 'nope'")

        let foreign = directory.path("foreign")
        try FileManager.default.createDirectory(atPath: foreign + "/store", withIntermediateDirectories: true)
        try TestContent.write([1, 2, 3], to: foreign + "/store/data.bin")
        try expectClearError(["image", "ls", "--home", foreign], mentioning: "not an Amber store")

        let catalog = try Catalog(path: AmberHome(explicit: home).catalogFile.path)
        try catalog.write { try $0.execute("INSERT INTO schema_migrations (name, applied) VALUES ('0100-future', 0)") }
        try expectClearError(["image", "ls", "--home", home], mentioning: "newer amber")
    }

    @Test(.enabled(if: AmberBinary.exists, "build the amber binary first: swift build --product amber"))
    func verifyExitsOneAndNamesTheChunkAndTheImage() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let home = directory.path("home")
        try TestContent.write(TestContent.text(1 << 20, seed: 2), to: directory.path("a"))
        #expect(try AmberBinary.run(["image", "import", directory.path("a"), "--name", "alpha", "--home", home]).status == 0)
        let clean = try AmberBinary.run(["store", "verify", "--home", home])
        #expect(clean.status == 0 && clean.stdout.hasPrefix("ok:"))

        let context = try StoreContext(home: AmberHome(explicit: home))
        let chunk = try #require(try context.catalog.read { try $0.allChunks() }.first { $0.rawLength == 65536 })
        try flipByte(at: UInt64(chunk.offset) + 100, in: context.store.packPath(chunk.pack))
        let hex = chunk.digest.map { String(format: "%02x", $0) }.joined()

        let text = try AmberBinary.run(["store", "verify", "--home", home])
        #expect(text.status == 74)
        #expect(text.stdout.contains("BAD chunk \(hex)") && text.stdout.contains("image alpha"), "\(text.stdout)")
        let json = try AmberBinary.run(["store", "verify", "--json", "--home", home])
        #expect(json.status == 74)
        let report = try JSONDecoder().decode(VerificationReport.self, from: Data(json.stdout.utf8))
        #expect(report.badChunks.map(\.digest) == [hex])
        #expect(report.damaged == ["image alpha"])
        let export = try AmberBinary.run(["image", "export", "alpha", directory.path("out"), "--home", home])
        #expect(export.status == 74 && export.stderr.contains(hex))
    }

    @Test(.enabled(if: AmberBinary.exists, "build the amber binary first: swift build --product amber"))
    func listsAndStatsAsJSON() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let home = directory.path("home")
        try TestContent.write(TestContent.text(1 << 20, seed: 3) + [UInt8](repeating: 0, count: 1 << 20), to: directory.path("a"))
        let imported = try AmberBinary.run(["image", "import", directory.path("a"), "--name", "alpha", "--home", home])
        #expect(imported.stdout.contains("imported alpha: 2 MiB"), "\(imported.stdout)")
        let list = try AmberBinary.run(["image", "ls", "--json", "--home", home])
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let images = try decoder.decode([ImageSummary].self, from: Data(list.stdout.utf8))
        #expect(images.map(\.name) == ["alpha"])
        #expect(images.first?.logicalBytes == 2 << 20)
        let stats = try decoder.decode(
            StoreStatistics.self, from: Data(try AmberBinary.run(["store", "stats", "--json", "--home", home]).stdout.utf8))
        #expect(stats.images == 1)
        #expect(stats.logicalBytes == 2 << 20)
        #expect(stats.dedupRatio > 1.9)
        #expect(stats.compressionRatio > 1.5)
    }
}
