import AmberModel
import Synchronization

/// A chunk index held in memory: what `rebuild-index` assembles from scanning packs before handing it
/// to the catalog, and what a store without a catalog uses.
public final class InMemoryChunkIndex: ChunkIndex {
    private struct State {
        var chunks: [ChunkDigest: ChunkLocation] = [:]
        var packs: [String: UInt64] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// Adds what a sealed writer stored, as a catalog commit would.
    public func record(_ commit: WriteCommit) {
        state.withLock { state in
            for chunk in commit.newChunks where state.chunks[chunk.digest] == nil {
                state.chunks[chunk.digest] = chunk.location
            }
            for extent in commit.packs {
                state.packs[extent.name] = extent.length
            }
        }
    }

    /// Adds chunks found by scanning packs (the first location of a digest wins).
    public func add(_ stored: [StoredChunk]) {
        state.withLock { state in
            for chunk in stored where state.chunks[chunk.digest] == nil {
                state.chunks[chunk.digest] = chunk.location
            }
        }
    }

    public var allChunks: [StoredChunk] {
        state.withLock { $0.chunks.map { StoredChunk(digest: $0.key, location: $0.value) } }
    }

    public func storedDigests(among digests: [ChunkDigest]) throws -> Set<ChunkDigest> {
        state.withLock { state in Set(digests.filter { state.chunks[$0] != nil }) }
    }

    public func locations(of digests: [ChunkDigest]) throws -> [ChunkDigest: ChunkLocation] {
        state.withLock { state in
            var found: [ChunkDigest: ChunkLocation] = [:]
            for digest in digests {
                if let location = state.chunks[digest] { found[digest] = location }
            }
            return found
        }
    }

    public func packExtents() throws -> [PackExtent] {
        state.withLock { $0.packs.map { PackExtent(name: $0.key, length: $0.value) } }
    }

    public func recordsEnd(inPack name: String) throws -> UInt64 {
        state.withLock { state in
            state.chunks.values.filter { $0.pack == name }.map { $0.offset + UInt64($0.recordLength) }.max() ?? 0
        }
    }
}
