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
}

extension StoreStatistics {
    /// A home without a store.
    public static let empty = StoreStatistics(
        images: 0, snapshots: 0, chunks: 0, packs: 0, logicalBytes: 0, uniqueBytes: 0,
        storedBytes: 0, packFileBytes: 0, chunkSize: ChunkStore.defaultChunkSize)
}
