import AmberCatalog
import Foundation

/// `<home>/cache/snapshots/<id>/`: snapshots taken out of the store for rollback and clone (see
/// `MaterializedSnapshot`). A cache entry stays while its snapshot exists, so later clones start at once;
/// once the snapshot is removed it goes as soon as no VM restored from it remains (a running VM keeps
/// the files it mapped even after they are unlinked, but a restart of a stopped one needs them).
struct SnapshotCache {
    let home: AmberHome

    var directory: URL { home.cacheDirectory.appendingPathComponent("snapshots") }

    /// Removes the entries of snapshots the catalog no longer has and no VM uses; returns the bytes freed.
    @discardableResult
    func removeUnused(catalog: Catalog) throws -> UInt64 {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        let used = SnapshotUsers.read(home: home)
        var freed: UInt64 = 0
        for id in entries where used[id] == nil {
            guard try catalog.read({ try $0.snapshot(id: id) }) == nil else { continue }
            let entry = directory.appendingPathComponent(id)
            freed += allocatedBytes(entry)
            try? FileManager.default.removeItem(at: entry)
        }
        return freed
    }

    private func allocatedBytes(_ entry: URL) -> UInt64 {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: entry.path)) ?? []
        return files.reduce(0) { total, file in
            var info = stat()
            guard stat(entry.appendingPathComponent(file).path, &info) == 0 else { return total }
            return total + UInt64(info.st_blocks) * 512
        }
    }
}
