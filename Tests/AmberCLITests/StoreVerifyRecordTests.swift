import AmberCatalog
@testable import AmberCore
import AmberModel
import AmberStore
import AmberTestSupport
import Foundation
import Glibc
import Testing

/// `amber store verify` checks every record against the chunks it names, and records against catalog rows: one
/// line per problem, naming the record (or the record file), in the text and in `--json`; exit 1 when any.
@Suite("verify checks records", .enabled(if: AmberBinary.exists, "build the amber binary first: swift build --product amber"))
struct StoreVerifyRecordTests {
    /// A home with an image and two snapshots (stored without a VM) whose memories share nothing; returns their ids.
    private func populate(_ home: CLIHome) throws -> [String] {
        let image = try home.file("base.img", TestContent.text(256 << 10, seed: 5))
        try #require(try home.amber(["image", "import", image, "--name", "base"]).status == 0)
        let service = SnapshotService(home: AmberHome(explicit: home.root.path))
        return try (1...2).map { seed in
            try TestContent.random(256 << 10, seed: UInt64(seed)).withUnsafeBytes { memory in
                try service.storeSynthetic(vm: "web", configJSON: "{}", created: Date(), memory: memory, state: [UInt8(seed)]).id
            }
        }
    }

    private func verify(_ home: CLIHome) throws -> (text: CLIResult, report: VerificationReport) {
        let text = try home.amber(["store", "verify"])
        let json = try home.amber(["store", "verify", "--json"])
        #expect(json.status == text.status)
        return (text, try JSONDecoder().decode(VerificationReport.self, from: Data(json.stdout.utf8)))
    }

    private func catalog(_ home: CLIHome) throws -> Catalog { try Catalog(path: home.root.appendingPathComponent("catalog.db").path) }

    @Test func aCleanStoreIsClean() throws {
        let home = try CLIHome()
        defer { home.remove() }
        _ = try populate(home)
        let (text, report) = try verify(home)
        #expect(text.status == 0 && text.stdout.hasPrefix("ok:") && text.stdout.contains("and 4 records verified"), "\(text.stdout)")
        #expect(report.isClean && report.recordProblems.isEmpty && report.checkedRecords == 4)
    }

    @Test func aChunkASnapshotNeedsGoneFromTheIndexNamesTheSnapshot() throws {
        let home = try CLIHome()
        defer { home.remove() }
        let ids = try populate(home)
        let context = try StoreContext(home: AmberHome(explicit: home.root.path))
        let row = try #require(try context.catalog.read { try $0.snapshot(id: ids[1]) })
        let memory = try context.reader.manifest(try #require(row.memoryManifest.flatMap(ChunkDigest.init(bytes:))))
        let lost = memory.digests.filter { !$0.isZero }.prefix(2)
        try context.catalog.write { try $0.deleteChunks(lost.map(\.bytes)) }

        let (text, report) = try verify(home)
        #expect(text.status == 74)
        let line = "snapshot \(ids[1]) (vm web): memory manifest names 2 chunk(s) the store lacks"
        #expect(text.stdout.split(separator: "\n").contains { $0 == line }, "\(text.stdout)")
        #expect(
            report.recordProblems == [
                RecordProblem(record: "snapshot \(ids[1]) (vm web)", problem: "memory manifest names 2 chunk(s) the store lacks")
            ])
        #expect(!text.stdout.contains(ids[0]))
    }

    @Test func aDamagedChunkNamesTheSnapshotsRecord() throws {
        let home = try CLIHome()
        defer { home.remove() }
        let ids = try populate(home)
        let context = try StoreContext(home: AmberHome(explicit: home.root.path))
        let row = try #require(try context.catalog.read { try $0.snapshot(id: ids[0]) })
        let memory = try context.reader.manifest(try #require(row.memoryManifest.flatMap(ChunkDigest.init(bytes:))))
        let chunk = try context.reader.location(of: try #require(memory.digests.first { !$0.isZero }))
        try flipByte(at: chunk.offset + UInt64(chunk.recordLength) - 1, in: context.store.packPath(chunk.pack))

        let text = try home.amber(["store", "verify"])
        #expect(text.status == 74)
        let line = "snapshot \(ids[0]) (vm web): memory manifest names 1 damaged chunk(s)"
        #expect(text.stdout.split(separator: "\n").contains { $0 == line }, "\(text.stdout)")
        // Quarantined by that verify: now a chunk the store lacks, until the same content is stored again.
        let again = try home.amber(["store", "verify"])
        #expect(again.stdout.contains("snapshot \(ids[0]) (vm web): memory manifest names 1 chunk(s) the store lacks"), "\(again.stdout)")
    }

    @Test func aDamagedRecordFileIsNamed() throws {
        let home = try CLIHome()
        defer { home.remove() }
        let ids = try populate(home)
        let path = home.root.appendingPathComponent("store/records/snapshots/\(ids[0])").path
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count - 3] ^= 0x20
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let (text, report) = try verify(home)
        #expect(text.status == 74)
        #expect(text.stdout.contains("record file \(path): body does not match its SHA-256"), "\(text.stdout)")
        #expect(report.recordProblems.map(\.record) == ["record file \(path)"])
    }

    @Test func rowsAndRecordsThatDisagreeSayToRecover() throws {
        let home = try CLIHome()
        defer { home.remove() }
        let ids = try populate(home)
        // A record without a row (the catalog is an older copy), and a row without a record.
        try catalog(home).write { try $0.deleteSnapshot(id: ids[1]) }
        unlink(home.root.appendingPathComponent("store/records/images/base").path)

        let (text, report) = try verify(home)
        #expect(text.status == 74)
        let lines = text.stdout.split(separator: "\n").map(String.init)
        #expect(lines.contains("image base: in the catalog but the store has no record of it; run `amber store recover`"), "\(text.stdout)")
        #expect(
            lines.contains("snapshot \(ids[1]) (vm web): in the store's records but not in the catalog; run `amber store recover`"),
            "\(text.stdout)")
        #expect(report.recordProblems.count == 2)

        let recover = try home.amber(["store", "recover"])
        #expect(recover.status == 0, "\(recover.stderr)")
        #expect(try verify(home).text.status == 0)
    }
}
