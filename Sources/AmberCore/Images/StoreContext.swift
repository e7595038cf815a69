import AmberCatalog
import AmberStore
import AmberSystem
import Foundation
import Glibc

/// The store and the catalog of one Amber home, opened together: the one place images and snapshots
/// get their chunks from.
public final class StoreContext: Sendable {
    public let home: AmberHome
    public let store: ChunkStore
    public let catalog: Catalog
    let index: CatalogChunkIndex

    /// `packTarget` is for tests that want many small packs. Makes an existing home owner-only (see
    /// `AmberHome.makePrivate`). The store lease is waited for at most `$AMBER_LEASE_TIMEOUT` seconds
    /// (default `ChunkStore.defaultLeaseTimeout`).
    public init(home: AmberHome, packTarget: UInt64 = ChunkStore.defaultPackTarget) throws {
        self.home = home
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: home.root.path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw ImageError.homeIsNotADirectory(home.root.path) }
        } else {
            do {
                try FileManager.default.createDirectory(
                    at: home.root, withIntermediateDirectories: true,
                    attributes: [.posixPermissions: 0o700])
            } catch {
                throw StoreError.io(operation: "create \(home.root.path)", cause: FailureCause(foundation: error))
            }
        }
        store = try ChunkStore(
            directory: home.storeDirectory, packTarget: packTarget, leaseTimeout: try Self.leaseTimeout(),
            key: home.keyInput)
        catalog = try Catalog(path: home.catalogFile.path)
        index = CatalogChunkIndex(catalog: catalog)
        // Only once the store and the catalog are known to be Amber's: a directory given as --home by
        // mistake is refused untouched.
        home.makePrivate()
        // A store written before records existed gains them here, once. Failing to is not fatal to a command that
        // only reads; the next open tries again.
        do {
            try CrashedRecordChanges.resolve(records: store.records, catalog: catalog)
            store.records.removeStaleTemporaryFiles()
            if let line = try RecordMigration.completeIfNeeded(catalog: catalog, records: store.records) {
                StandardError.write("amber: \(line)\n")
            }
        } catch {
            StandardError.write("amber: could not give the catalog's rows records in the store yet: \(error)\n")
        }
    }

    /// `$AMBER_LEASE_TIMEOUT`, when set: seconds, 0 or more.
    private static func leaseTimeout() throws -> Double {
        guard let text = ProcessInfo.processInfo.environment["AMBER_LEASE_TIMEOUT"], !text.isEmpty else {
            return ChunkStore.defaultLeaseTimeout
        }
        guard let seconds = Double(text), seconds >= 0, seconds.isFinite else { throw ImageError.badLeaseTimeout(text) }
        return seconds
    }

    public var reader: ChunkReader { ChunkReader(store: store, index: index) }
    /// The catalog as the store's index of chunks, for a caller that commits a write its own way (the benchmark
    /// times the seal and the catalog transaction apart).
    public var chunkIndex: ChunkIndex { index }

    /// A write to the store and the catalog: `body` stores chunks with the writer; once its packs are
    /// durable, its chunks and whatever `commit` adds are recorded in one catalog transaction. On any
    /// failure the writer's pack bytes are given back and nothing is recorded (`ChunkStore.write`).
    public func write<Stored, Committed>(
        _ body: (StoreWriter) throws -> Stored,
        commit: (SQLiteConnection, Stored) throws -> Committed
    ) throws -> Committed {
        try store.write(index: index, body) { sealed, stored in
            try catalog.write { db -> Committed in
                try db.addChunks(sealed.newChunks, packs: sealed.packs)
                return try commit(db, stored)
            }
        }
    }
}
