import AmberCatalog
import AmberModel
import AmberTestSupport
import Foundation
import Testing

@Suite struct RecordTests {
    let directory: TemporaryDirectory
    let catalog: Catalog

    init() throws {
        directory = try TemporaryDirectory()
        catalog = try Catalog(path: directory.path("catalog.db"))
    }

    @Test func imagesInsertListAndDelete() throws {
        let created = Date(timeIntervalSince1970: 1_700_000_000.5)
        let image = ImageRecord(
            name: "base", manifest: digest(7), logicalBytes: 4 << 30, storedBytes: 123, chunkSize: 65536, created: created)
        try catalog.write { try $0.insertImage(image) }
        #expect(try catalog.read { try $0.image(named: "base") } == image)
        #expect(throws: CatalogError.duplicate(what: "image 'base'")) { try catalog.write { try $0.insertImage(image) } }
        try catalog.write { try $0.deleteImage(named: "base") }
        #expect(try catalog.read { try $0.images() }.isEmpty)
        #expect(throws: CatalogError.notFound(what: "image 'base'")) { try catalog.write { try $0.deleteImage(named: "base") } }
    }

    @Test func chunksAndPacksTrackLocationsAndTotals() throws {
        let chunks = (1...3).map { storedChunk($0, pack: "p1", offset: UInt64($0) * 100) }
        try catalog.write { try $0.addChunks(chunks, packs: [PackExtent(name: "p1", length: 500)]) }
        // A second writer's copy of an existing chunk keeps the first location.
        let duplicate = storedChunk(1, pack: "p2", offset: 16)
        try catalog.write { try $0.addChunks([duplicate], packs: [PackExtent(name: "p2", length: 112)]) }
        #expect(try catalog.read { try $0.chunks(for: [digest(1)]) } == [row(chunks[0])])
        #expect(try catalog.read { try $0.existingDigests(among: [digest(1), digest(9), digest(3)]) } == [digest(1), digest(3)])
        #expect(try catalog.read { try $0.chunkTotals() } == ChunkTotals(chunks: 3, rawBytes: 3 * 65536, storedBytes: 3 * 96))

        let moved = storedChunk(2, pack: "p2", offset: 112)
        try catalog.write { db in
            try db.moveChunks([moved])
            try db.deleteChunks([digest(3)])
            try db.setPackLength("p2", 208)
        }
        #expect(Set(try catalog.read { try $0.allChunks() }) == [row(chunks[0]), row(moved)])
        #expect(try catalog.read { try $0.packs() } == [PackRecord(name: "p1", length: 500), PackRecord(name: "p2", length: 208)])
    }

    /// A 40-byte LZ4 record of a 64 KiB chunk named `digest(n)`.
    private func storedChunk(_ n: UInt8, pack: String, offset: UInt64) -> StoredChunk {
        StoredChunk(
            digest: ChunkDigest(bytes: digest(n))!,
            location: ChunkLocation(pack: pack, offset: offset, storedLength: 40, rawLength: 65536, codec: .lz4))
    }

    /// How the catalog reads `chunk` back.
    private func row(_ chunk: StoredChunk) -> ChunkRecord {
        ChunkRecord(
            digest: chunk.digest.bytes, pack: chunk.location.pack, offset: Int64(chunk.location.offset),
            storedLength: chunk.location.storedLength, rawLength: chunk.location.rawLength,
            codec: Int(chunk.location.codec.rawValue))
    }

    @Test func aFailedTransactionLeavesNothingBehind() throws {
        struct Stop: Error {}
        #expect(throws: Stop.self) {
            try catalog.write { db in
                try db.addChunks(
                    [
                        StoredChunk(
                            digest: ChunkDigest(bytes: digest(5))!,
                            location: ChunkLocation(pack: "p", offset: 16, storedLength: 1, rawLength: 1, codec: .raw))
                    ],
                    packs: [PackExtent(name: "p", length: 73)])
                throw Stop()
            }
        }
        #expect(try catalog.read { try $0.allChunks() }.isEmpty)
        #expect(try catalog.read { try $0.packs() }.isEmpty)
    }

    @Test func vmsAndSnapshotsRoundTrip() throws {
        try catalog.write { try $0.insertVM(VMRecord(name: "web-1", config: "{\"memory\":256}", created: Date(timeIntervalSince1970: 10))) }
        let parent = SnapshotRecord(
            id: "s1", vm: "web-1", created: Date(timeIntervalSince1970: 100), label: "before upgrade", kind: "full",
            memoryManifest: digest(1), diskManifest: digest(2), stateManifest: digest(3),
            logicalBytes: 1 << 30, storedBytes: 1 << 20, pauseMicroseconds: 1500, protected: true)
        let child = SnapshotRecord(
            id: "s2", vm: "web-1", parent: "s1", created: Date(timeIntervalSince1970: 200), kind: "disk",
            diskManifest: digest(4), logicalBytes: 5, storedBytes: 6, pauseMicroseconds: 7)
        try catalog.write { db in
            try db.insertSnapshot(parent)
            try db.insertSnapshot(child)
        }
        #expect(try catalog.read { try $0.snapshots(vm: "web-1") } == [parent, child])
        #expect(try catalog.read { try $0.snapshot(id: "s2") }?.manifests == [digest(4)])
        #expect(throws: CatalogError.notFound(what: "VM 'nope'")) {
            try catalog.write {
                try $0.insertSnapshot(
                    SnapshotRecord(
                        id: "x", vm: "nope", created: Date(), kind: "full", logicalBytes: 0, storedBytes: 0, pauseMicroseconds: 0))
            }
        }
        #expect(throws: CatalogError.self) { try catalog.write { try $0.deleteSnapshot(id: "s1") } }
        #expect(throws: CatalogError.self) { try catalog.write { try $0.deleteVM(named: "web-1") } }
        try catalog.write { db in
            try db.setSnapshotProtected(id: "s1", false)
            try db.deleteSnapshot(id: "s1")
        }
        #expect(try catalog.read { try $0.snapshot(id: "s2") }?.parent == nil)
        try catalog.write { db in
            try db.deleteSnapshot(id: "s2")
            try db.deleteVM(named: "web-1")
        }
        #expect(try catalog.read { try $0.vms() }.isEmpty)
    }

    @Test func deletingASnapshotMovesItsChildrenUpToItsParent() throws {
        try catalog.write { try $0.insertVM(VMRecord(name: "web-1", config: "{}", created: Date(timeIntervalSince1970: 10))) }
        func row(_ id: String, parent: String?, at seconds: Double) -> SnapshotRecord {
            SnapshotRecord(
                id: id, vm: "web-1", parent: parent, created: Date(timeIntervalSince1970: seconds), kind: "full",
                logicalBytes: 1, storedBytes: 1, pauseMicroseconds: 1)
        }
        try catalog.write { db in
            for record in [
                row("a", parent: nil, at: 1), row("b", parent: "a", at: 2), row("c", parent: "b", at: 3),
                row("d", parent: "b", at: 4),
            ] {
                try db.insertSnapshot(record)
            }
            try db.deleteSnapshot(id: "b")
        }
        let parents = try catalog.read { try $0.snapshots(vm: "web-1") }.map { "\($0.id)<\($0.parent ?? "-")" }
        #expect(parents == ["a<-", "c<a", "d<a"])
        // A prune's batch delete moves children up the same way (the trigger serves every delete).
        try catalog.write { db in
            try db.insertSnapshot(row("e", parent: "c", at: 5))
            try db.deleteUnprotectedSnapshots(ids: ["c"])
        }
        let afterBatch = try catalog.read { try $0.snapshots(vm: "web-1") }.map { "\($0.id)<\($0.parent ?? "-")" }
        #expect(afterBatch == ["a<-", "d<a", "e<a"])
        // Finding the children uses the parent index, not a scan of every snapshot.
        let plan = try catalog.read { db -> String in
            let rows = try db.statement("EXPLAIN QUERY PLAN UPDATE snapshots SET parent = 'a' WHERE parent = 'b'")
            var details: [String] = []
            while try rows.step() { details.append(rows.text(3)) }
            return details.joined(separator: "; ")
        }
        #expect(plan.contains("USING COVERING INDEX snapshots_by_parent") || plan.contains("USING INDEX snapshots_by_parent"), "\(plan)")
    }

    @Test func leasesNameTheirHolder() throws {
        let id = try catalog.write { try $0.insertLease(purpose: "clone web-1", manifest: digest(8)) }
        let leases = try catalog.read { try $0.leases() }
        #expect(leases.count == 1)
        #expect(leases.first?.holderPID == getpid())
        #expect(leases.first?.holderIsAlive == true)
        #expect(leases.first?.manifest == digest(8))
        try catalog.write { try $0.deleteLease(id: id) }
        #expect(try catalog.read { try $0.leases() }.isEmpty)
    }
}
