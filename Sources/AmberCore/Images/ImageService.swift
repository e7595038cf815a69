import AmberCatalog
import AmberModel
import AmberStore
import Foundation

/// What `amber image import` reports.
public struct ImageImportReport: Sendable, Codable {
    public var name: String
    public var manifest: String
    public var logicalBytes: UInt64
    public var chunks: Int
    public var zeroChunks: Int
    public var newChunks: Int
    /// Bytes of new chunks before and after compression (pack bytes, record headers included).
    public var newRawBytes: UInt64
    public var storedBytes: UInt64
    public var seconds: Double

    /// Logical bytes per byte this import added to the store (zero chunks and dedup make it large).
    public var reduction: Double { storedBytes == 0 ? .infinity : Double(logicalBytes) / Double(storedBytes) }
    /// Logical bytes that needed no new storage (zero or already stored chunks).
    public var dedupRatio: Double { newRawBytes == 0 ? .infinity : Double(logicalBytes) / Double(newRawBytes) }
    public var compressionRatio: Double { storedBytes == 0 ? 1 : Double(newRawBytes) / Double(storedBytes) }
}

/// A row of `amber image ls`.
public struct ImageSummary: Sendable, Codable, Equatable {
    public var name: String
    public var manifest: String
    public var logicalBytes: Int64
    public var storedBytes: Int64
    public var chunkSize: Int
    public var created: Date
}

/// Images (kernels, initrds, base disks) kept in the store.
public struct ImageService: Sendable {
    public let context: StoreContext

    public init(context: StoreContext) {
        self.context = context
    }

    public func importImage(
        file path: String, name: String,
        progress: ProgressReport? = nil
    ) throws -> ImageImportReport {
        try ImageError.validate(name: name)
        guard try context.catalog.read({ try $0.image(named: name) }) == nil else { throw ImageError.duplicateName(name) }
        let started = Date()
        // Opened (and refused if it is no file) before the lease: a FIFO must not hold every writer up.
        let source = try IngestFile(path: path)
        let records = RecordKeeper(directory: context.store.records)
        let result: IngestResult
        do {
            result = try records.undoingOnFailure {
                try context.write { writer in
                    try writer.ingest(source, progress: progress)
                } commit: { db, result in
                    // Checked again here, before the record: a concurrent import of the same name must not replace
                    // the record of the one that committed first.
                    guard try db.image(named: name) == nil else { throw CatalogError.duplicate(what: "image '\(name)'") }
                    let image = ImageRecord(
                        name: name, manifest: result.manifest.bytes, logicalBytes: Int64(result.logicalBytes),
                        storedBytes: Int64(result.newStoredBytes), chunkSize: context.store.chunkSize,
                        created: Date())
                    try records.recordImage(image)
                    try db.insertImage(image)
                    return result
                }
            }
        } catch CatalogError.duplicate {
            throw ImageError.duplicateName(name)
        }
        return ImageImportReport(
            name: name, manifest: result.manifest.hex, logicalBytes: result.logicalBytes,
            chunks: result.chunkCount, zeroChunks: result.zeroChunks, newChunks: result.newChunks,
            newRawBytes: result.newRawBytes, storedBytes: result.newStoredBytes,
            seconds: Date().timeIntervalSince(started))
    }

    public func list() throws -> [ImageSummary] {
        try context.catalog.read { try $0.images() }.map { image in
            ImageSummary(
                name: image.name, manifest: ChunkDigest(bytes: image.manifest)?.hex ?? "", logicalBytes: image.logicalBytes,
                storedBytes: image.storedBytes, chunkSize: image.chunkSize, created: image.created)
        }
    }

    /// Writes the image to `path` (atomically: a failed export leaves no file); returns its size.
    @discardableResult
    public func export(name: String, to path: String, progress: ProgressReport? = nil) throws -> UInt64 {
        guard let image = try context.catalog.read({ try $0.image(named: name) }),
            let root = ChunkDigest(bytes: image.manifest)
        else { throw ImageError.unknownImage(name) }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
            throw ImageError.outputIsDirectory(path)
        }
        let parent = (URL(fileURLWithPath: path).deletingLastPathComponent().path)
        guard FileManager.default.fileExists(atPath: parent) else { throw ImageError.outputDirectoryMissing(path) }
        // Shared lease: gc cannot move or free this image's chunks while they are being read.
        let lease = try context.store.lease(.shared)
        defer { withExtendedLifetime(lease) {} }
        // Straight to the disk: an exported image is not read back soon, and filling the page cache
        // with it costs more than the disk write on this kind of machine (see BENCHMARKS.md, store).
        return try context.reader.materialize(root, toPath: path, bypassingPageCache: true, progress: progress).logicalLength
    }

    /// Forgets the image; its chunks stay until `amber store gc` finds nothing else uses them.
    public func remove(name: String) throws {
        do {
            let records = RecordKeeper(directory: context.store.records)
            try records.undoingOnFailure {
                try context.catalog.write { db in
                    guard let image = try db.image(named: name) else { throw CatalogError.notFound(what: "image '\(name)'") }
                    try records.recordImageRemoval(image)
                    try db.deleteImage(named: name)
                }
            }
        } catch CatalogError.notFound {
            throw ImageError.unknownImage(name)
        }
    }
}
