import AmberModel
import AmberSystem
import Foundation
import Glibc

/// Stored chunks found damaged (their bytes no longer decode to their digest). `amber store verify` takes
/// each out of the chunk index, so that the next writer of the same content stores it afresh instead of
/// deduplicating against the damaged copy (Proxmox Backup Server renames bad chunks for the same reason),
/// and lists its place here: what was taken out, where, for whoever looks at a store's history (an index
/// rebuilt from the packs re-hashes every record and leaves damaged ones out by itself). The damaged bytes
/// stay in their pack until gc rewrites or deletes it. One line per chunk: `<digest hex> <pack> <offset>`.
public struct ChunkQuarantine: Sendable {
    public static let fileName = "quarantine.list"
    /// A line is ~120 bytes; a list is a few lines. Anything far larger is not one of ours.
    static let maximumBytes = 16 << 20

    public let path: String

    public init(store: ChunkStore) {
        path = store.directory.appendingPathComponent(Self.fileName).path
    }

    /// Appends `chunks` and makes the list durable before the caller drops their index rows.
    public func add(_ chunks: [StoredChunk]) throws {
        guard !chunks.isEmpty else { return }
        let text = chunks.map { "\($0.digest.hex) \($0.location.pack) \($0.location.offset)\n" }.joined()
        let mode = GroupReadable.fileMode(forPath: path)
        let file = try FileDescriptor.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode: mode)
        GroupReadable.settle(file.rawValue, mode)
        let bytes = Array(text.utf8)
        var written = 0
        while written < bytes.count {
            let count = try retryingInterrupts("write \(path)") {
                bytes.withUnsafeBytes { Glibc.write(file.rawValue, $0.baseAddress! + written, $0.count - written) }
            }
            written += count
        }
        try file.sync()
        try FileDescriptor.syncDirectory(containing: path)
    }

    /// Every quarantined place (pack and offset). Lines that do not parse are skipped: the list only ever
    /// keeps chunks out of an index, so a damaged line costs at most a re-check of that chunk.
    public func places() throws -> Set<Place> {
        guard let data = FileManager.default.contents(atPath: path) else { return [] }
        guard data.count <= Self.maximumBytes else {
            throw StoreError.io(
                operation: "read quarantine list \(path)",
                cause: FailureCause(
                    reason: "it is \(data.count) bytes, more than \(Self.maximumBytes); remove it and run `amber store verify`"))
        }
        var result = Set<Place>()
        for line in String(decoding: data, as: UTF8.self).split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.count == 3, let offset = UInt64(fields[2]) else { continue }
            result.insert(Place(pack: String(fields[1]), offset: offset))
        }
        return result
    }

    public struct Place: Hashable, Sendable {
        public var pack: String
        public var offset: UInt64

        public init(pack: String, offset: UInt64) {
            self.pack = pack
            self.offset = offset
        }
    }
}
