import AmberCatalog
import AmberStore
import Foundation

/// What `amber store stats` reports.
public struct StoreStatistics: Sendable, Codable {
    public var images: Int
    public var snapshots: Int
    public var chunks: Int
    public var packs: Int
    /// Bytes the images and snapshots stand for.
    public var logicalBytes: Int64
    /// Distinct non-zero chunk bytes before compression.
    public var uniqueBytes: Int64
    /// Bytes the live records take in packs (headers included).
    public var storedBytes: Int64
    /// Pack files' size on disk, including bytes gc has not reclaimed yet.
    public var packFileBytes: Int64
    public var chunkSize: Int

    /// Logical bytes per distinct stored byte: zero elision plus deduplication.
    public var dedupRatio: Double { uniqueBytes == 0 ? 0 : Double(logicalBytes) / Double(uniqueBytes) }
    public var compressionRatio: Double { storedBytes == 0 ? 0 : Double(uniqueBytes) / Double(storedBytes) }
    public var overallRatio: Double { packFileBytes == 0 ? 0 : Double(logicalBytes) / Double(packFileBytes) }
}

extension StoreContext {
    public func statistics() throws -> StoreStatistics {
        let (images, snapshots, totals, packs) = try catalog.read { db in
            (try db.images(), try db.snapshots(), try db.chunkTotals(), try db.packs())
        }
        let fileBytes = try store.packFileNames().reduce(Int64(0)) { sum, name in
            let size = (try? FileManager.default.attributesOfItem(atPath: store.packPath(name))[.size] as? NSNumber)?.int64Value ?? 0
            return sum + size
        }
        return StoreStatistics(
            images: images.count, snapshots: snapshots.count, chunks: totals.chunks, packs: packs.count,
            logicalBytes: Self.total(images.map(\.logicalBytes) + snapshots.map(\.logicalBytes)),
            uniqueBytes: totals.rawBytes, storedBytes: totals.storedBytes, packFileBytes: fileBytes,
            chunkSize: store.chunkSize)
    }

    /// Sizes from catalog rows summed for a report: a damaged row's size can be any 64-bit number, and
    /// a statistic is no reason to fail, so negative sizes count as zero and the sum stops at Int64.max
    /// (as the planner's byte budgets do).
    static func total(_ sizes: [Int64]) -> Int64 {
        sizes.reduce(Int64(0)) { sum, size in
            let (next, overflow) = sum.addingReportingOverflow(max(0, size))
            return overflow ? .max : next
        }
    }
}
