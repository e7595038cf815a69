import AmberCatalog
@testable import AmberCore
import AmberStore
import AmberTestSupport
import Foundation
import Glibc
import Testing

/// Delta chunks end to end: `amber snapshot` of the counting tiny guest on /dev/kvm, whose only change
/// between two snapshots is its tick counter.
@Suite("Delta chunks in snapshots of running VMs", .serialized, .enabled(if: FileManager.default.fileExists(atPath: "/dev/kvm")))
struct CLISnapshotDeltaTests {
    private func take(_ home: CLIHome, _ name: String) throws -> SnapshotSummary {
        let result = try home.amber(["snapshot", name, "--json"], timeout: 120)
        try #require(result.status == 0, "\(result.stderr)")
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(SnapshotSummary.self, from: Data(result.stdout.utf8))
    }

    private func memoryRoot(_ context: StoreContext, _ id: String) throws -> ChunkDigest {
        let record = try #require(try context.catalog.read { try $0.snapshot(id: id) })
        return try #require(record.memoryManifest.flatMap(ChunkDigest.init(bytes:)))
    }

    private func counter(_ context: StoreContext, _ id: String) throws -> UInt64 {
        let memory = try ManifestFile(reader: context.reader, root: try memoryRoot(context, id))
        var value: UInt64 = 0
        _ = try withUnsafeMutableBytes(of: &value) { try memory.read(into: $0, at: UInt64(TinyGuest.counterAddress)) }
        return value
    }

    @Test func theCounterChunkIsADeltaOnTheParentsAndStillReadsAfterTheParentIsGone() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "d1", "--timeout", "5"])
            home.remove()
        }
        try home.startCounter("d1")
        try home.waitForCount("d1", above: 0)
        let first = try take(home, "d1")
        try home.waitForCount("d1", above: try counter(try StoreContext(home: AmberHome(explicit: home.root.path)), first.id))
        let second = try take(home, "d1")
        #expect(second.parent == first.id)

        let context = try StoreContext(home: AmberHome(explicit: home.root.path))
        let chunk = TinyGuest.counterAddress / ChunkStore.defaultChunkSize
        let base = try context.reader.manifest(try memoryRoot(context, first.id)).digests[chunk]
        let changed = try context.reader.manifest(try memoryRoot(context, second.id)).digests[chunk]
        try #require(base != changed, "the guest did not tick between the snapshots")
        let location = try context.reader.location(of: changed)
        #expect(location.codec == .delta && location.base == base)
        let firstCount = try counter(context, first.id)

        #expect(try home.amber(["snapshot", "rm", first.id]).status == 0)
        #expect(try home.amber(["store", "gc"]).status == 0)
        #expect(try counter(context, second.id) > firstCount)
        #expect(try context.verify().isClean)
    }
}
