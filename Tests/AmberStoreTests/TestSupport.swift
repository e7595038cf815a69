import AmberModel
import AmberStore
import Crypto
import Foundation

/// A fresh directory under /tmp, removed when the value goes away.
final class TemporaryDirectory {
    let url: URL

    init() throws {
        url = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("amber-store-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}

/// Deterministic test content of the kinds the store must round-trip.
enum Content {
    /// xorshift64*: fast, repeatable, incompressible enough.
    static func random(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed | 1
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset < count {
                state ^= state >> 12; state ^= state << 25; state ^= state >> 27
                var word = state &* 0x2545_F491_4F6C_DD1D
                let n = min(8, count - offset)
                withUnsafeBytes(of: &word) { raw.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: n) }
                offset += n
            }
        }
        return bytes
    }

    static func text(_ count: Int, seed: UInt64) -> [UInt8] {
        let words = ["amber", "snapshot", "chunk", "kernel", "memory", "page", "the", "of", "and", "vm", "disk", "store\n"]
        let picks = random(count / 3 + 16, seed: seed)
        var out: [UInt8] = []
        out.reserveCapacity(count + 16)
        var i = 0
        while out.count < count {
            out += Array(words[Int(picks[i % picks.count]) % words.count].utf8)
            out.append(UInt8(ascii: " "))
            i += 1
        }
        return Array(out.prefix(count))
    }

    /// Data islands between long runs of zeros.
    static func sparse(_ count: Int, seed: UInt64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let island = random(4096, seed: seed)
        for start in stride(from: 0, to: count, by: 1 << 20) {
            let n = min(island.count, count - start)
            bytes.replaceSubrange(start..<(start + n), with: island[0..<n])
        }
        return bytes
    }

    static func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }
}

/// A store plus the in-memory index that stands in for the catalog inside the store's own tests.
struct TestStore {
    let directory: TemporaryDirectory
    let store: ChunkStore
    let index = InMemoryChunkIndex()

    init(chunkSize: Int = ChunkStore.defaultChunkSize, packTarget: UInt64 = ChunkStore.defaultPackTarget) throws {
        directory = try TemporaryDirectory()
        store = try ChunkStore(directory: directory.url.appendingPathComponent("store"), chunkSize: chunkSize, packTarget: packTarget)
    }

    /// A store opened elsewhere (an encrypted one, with its key).
    init(directory: TemporaryDirectory, store: ChunkStore) {
        self.directory = directory
        self.store = store
    }

    var reader: ChunkReader { ChunkReader(store: store, index: index) }

    /// Ingests `bytes` through a file and commits it to the index, as the catalog would.
    @discardableResult
    func ingest(_ bytes: [UInt8], name: String = "input") throws -> IngestResult {
        let path = directory.path(name)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return try index.write(to: store) { try $0.ingest(file: path) }
    }

    func export(_ root: ChunkDigest, name: String = "output") throws -> [UInt8] {
        let path = directory.path(name)
        try reader.materialize(root, toPath: path)
        return Array(try Data(contentsOf: URL(fileURLWithPath: path)))
    }

    func packBytes() throws -> UInt64 {
        try store.packFileNames().reduce(0) { total, name in
            let attributes = try FileManager.default.attributesOfItem(atPath: store.packPath(name))
            return total + ((attributes[.size] as? NSNumber)?.uint64Value ?? 0)
        }
    }
}
