import AmberStore
import AmberTestSupport
import Foundation

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
        let writer = try StoreWriter(store: store, index: index)
        let result = try writer.ingest(file: path)
        index.record(try writer.seal())
        writer.finish(committed: true)
        return result
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
