import Foundation

/// An image kept in the store: a kernel, an initrd or a base disk.
public struct ImageRecord: Equatable, Sendable {
    public var name: String
    /// Root digest of the image's manifest.
    public var manifest: [UInt8]
    public var logicalBytes: Int64
    /// Pack bytes this image added when it was imported (shared chunks count for whoever came first).
    public var storedBytes: Int64
    public var chunkSize: Int
    public var created: Date

    public init(name: String, manifest: [UInt8], logicalBytes: Int64, storedBytes: Int64, chunkSize: Int, created: Date) {
        self.name = name
        self.manifest = manifest
        self.logicalBytes = logicalBytes
        self.storedBytes = storedBytes
        self.chunkSize = chunkSize
        self.created = created
    }
}

extension SQLiteConnection {
    public func insertImage(_ image: ImageRecord) throws {
        if try self.image(named: image.name) != nil { throw CatalogError.duplicate(what: "image '\(image.name)'") }
        try statement("INSERT INTO images (name, manifest, logical_bytes, stored_bytes, chunk_size, created) VALUES (?, ?, ?, ?, ?, ?)")
            .bind(
                .text(image.name), .blob(image.manifest), .integer(image.logicalBytes), .integer(image.storedBytes),
                .int(image.chunkSize), .real(image.created.timeIntervalSince1970)
            )
            .run()
    }

    public func images() throws -> [ImageRecord] {
        try statement("SELECT name, manifest, logical_bytes, stored_bytes, chunk_size, created FROM images ORDER BY name")
            .rows(Self.imageRow)
    }

    public func image(named name: String) throws -> ImageRecord? {
        try statement("SELECT name, manifest, logical_bytes, stored_bytes, chunk_size, created FROM images WHERE name = ?")
            .bind(.text(name)).rows(Self.imageRow).first
    }

    /// Removes the image row; its chunks stay until gc finds nothing else uses them.
    public func deleteImage(named name: String) throws {
        try statement("DELETE FROM images WHERE name = ?").bind(.text(name)).run()
        if changes == 0 { throw CatalogError.notFound(what: "image '\(name)'") }
    }

    private static func imageRow(_ row: SQLiteStatement) -> ImageRecord {
        ImageRecord(
            name: row.text(0), manifest: row.blob(1), logicalBytes: row.int64(2), storedBytes: row.int64(3),
            chunkSize: row.int(4), created: Date(timeIntervalSince1970: row.double(5)))
    }
}
