import AmberCatalog
import AmberStore
import Foundation

extension StoreContext {
    /// The home's store and catalog, or nil when the home has neither yet: a command that only reads answers
    /// "nothing" for a fresh home instead of creating one (opening a `StoreContext` creates the store).
    public static func existing(home: AmberHome) throws -> StoreContext? {
        let files = FileManager.default
        // Any store directory is opened, so one that is not Amber's is refused as before.
        guard files.fileExists(atPath: home.catalogFile.path) || files.fileExists(atPath: home.storeDirectory.path) else {
            return nil
        }
        return try StoreContext(home: home)
    }

    /// The home's store for a command that works on one (verify, repair, gc, recover); a fresh home is refused
    /// with `NoStoreError` instead of getting an empty store made for nothing to be done to.
    public static func required(home: AmberHome, toDo work: String) throws -> StoreContext {
        guard let context = try existing(home: home) else { throw NoStoreError(home: home.root.path, work: work) }
        return context
    }
}

/// A command that works on the store was run in a home that has none yet.
public struct NoStoreError: Error, CustomStringConvertible {
    public let home: String
    public let work: String
    public var description: String {
        "no store in \(home) yet, nothing to \(work): the first `amber image import`, `amber snapshot take` or `amber store init` makes one (or give --home)"
    }
}

extension StoreStatistics {
    /// A home without a store.
    public static let empty = StoreStatistics(
        images: 0, snapshots: 0, chunks: 0, packs: 0, logicalBytes: 0, uniqueBytes: 0,
        storedBytes: 0, packFileBytes: 0, chunkSize: ChunkStore.defaultChunkSize)
}
