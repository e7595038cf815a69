import AmberCatalog
@testable import AmberCore
import AmberStore
import AmberTestSupport
import Foundation
import Testing

/// `StoreContext.write`: a write that fails anywhere before its catalog commit leaves the store's files and the
/// catalog exactly as they were (pack bytes cut back, packs it created removed, no rows), and the store takes
/// the next write as if the failed one had never been.
@Suite struct ScopedStoreWriteTests {
    private struct Refused: Error {}

    /// Every pack file's name and size, and the catalog's chunk and pack rows.
    private struct Snapshot: Equatable {
        var packFiles: [String: UInt64]
        var chunks: Int
        var packRows: [String]
        var images: [String]
    }

    private func snapshot(_ context: StoreContext) throws -> Snapshot {
        var files: [String: UInt64] = [:]
        for name in try context.store.packFileNames() {
            let attributes = try FileManager.default.attributesOfItem(atPath: context.store.packPath(name))
            files[name] = (attributes[.size] as? NSNumber)?.uint64Value
        }
        return try context.catalog.read { db in
            Snapshot(
                packFiles: files, chunks: try db.chunkTotals().chunks,
                packRows: try db.packs().map { "\($0.name) \($0.length)" }, images: try db.images().map(\.name))
        }
    }

    /// A store holding image "first" (text, seed `seed`), a random file "second" (seed `seed + 1`) beside it
    /// still to import, and the store as it is before that import.
    private func storeWithOneImage(seed: UInt64) throws -> (TemporaryDirectory, StoreContext, Snapshot) {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let context = try StoreContext(home: directory.home)
        try TestContent.write(TestContent.text(1 << 20, seed: seed), to: directory.path("first"))
        _ = try ImageService(context: context).importImage(file: directory.path("first"), name: "first")
        let before = try snapshot(context)
        try TestContent.write(TestContent.random(3 << 20, seed: seed + 1), to: directory.path("second"))
        return (directory, context, before)
    }

    @Test func aWriteWhoseBodyThrowsLeavesNothingBehind() throws {
        let (directory, context, before) = try storeWithOneImage(seed: 1)
        #expect(throws: Refused.self) {
            try context.write { writer in
                let result = try writer.ingest(file: directory.path("second"))
                #expect(result.newChunks > 0)
                #expect(try context.store.packFileNames().count >= before.packFiles.count)
                throw Refused()
            } commit: { _, _ in
                Issue.record("a write whose body threw was committed")
            }
        }
        #expect(try snapshot(context) == before)
        #expect(try context.verify().isClean)
    }

    @Test func aWriteWhoseCommitThrowsAfterTheSealLeavesNothingBehind() throws {
        let (directory, context, before) = try storeWithOneImage(seed: 3)
        #expect(throws: Refused.self) {
            try context.write { writer in
                try writer.ingest(file: directory.path("second"))
            } commit: { db, result in
                // Inside the catalog transaction, after the chunk rows: they go with it.
                try db.insertImage(
                    ImageRecord(
                        name: "second", manifest: result.manifest.bytes,
                        logicalBytes: Int64(result.logicalBytes), storedBytes: 0,
                        chunkSize: context.store.chunkSize, created: Date()))
                throw Refused()
            }
        }
        #expect(try snapshot(context) == before)

        // The next write goes through as if the failed one had never been.
        let imported = try ImageService(context: context).importImage(file: directory.path("second"), name: "second")
        #expect(imported.newChunks > 0)
        #expect(try context.verify().isClean)
        _ = try ImageService(context: context).export(name: "second", to: directory.path("second.out"))
        #expect(
            try TestContent.sha256(ofFile: directory.path("second.out"))
                == TestContent.sha256(TestContent.random(3 << 20, seed: 4)))
    }
}
