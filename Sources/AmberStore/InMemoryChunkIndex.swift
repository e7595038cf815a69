import Foundation

/// A chunk index held in memory: what `rebuild-index` assembles from scanning packs before handing it
/// to the catalog, and what a store without a catalog uses.
public final class InMemoryChunkIndex: ChunkIndex, @unchecked Sendable {
    private let lock = NSLock()
    private var chunks: [ChunkDigest: ChunkLocation] = [:]
    private var packs: [String: UInt64] = [:]

    public init() {}

    /// Adds what a sealed writer stored, as a catalog commit would.
    public func record(_ commit: WriteCommit) {
        lock.lock()
        defer { lock.unlock() }
        for chunk in commit.newChunks where chunks[chunk.digest] == nil {
            chunks[chunk.digest] = chunk.location
        }
        for extent in commit.packs {
            packs[extent.name] = extent.length
        }
    }

    /// Adds chunks found by scanning packs (the first location of a digest wins).
    public func add(_ stored: [StoredChunk]) {
        lock.lock()
        defer { lock.unlock() }
        for chunk in stored where chunks[chunk.digest] == nil {
            chunks[chunk.digest] = chunk.location
        }
    }

    public var allChunks: [StoredChunk] {
        lock.lock()
        defer { lock.unlock() }
        return chunks.map { StoredChunk(digest: $0.key, location: $0.value) }
    }

    public func storedDigests(among digests: [ChunkDigest]) throws -> Set<ChunkDigest> {
        lock.lock()
        defer { lock.unlock() }
        return Set(digests.filter { chunks[$0] != nil })
    }

    public func locations(of digests: [ChunkDigest]) throws -> [ChunkDigest: ChunkLocation] {
        lock.lock()
        defer { lock.unlock() }
        var found: [ChunkDigest: ChunkLocation] = [:]
        for digest in digests {
            if let location = chunks[digest] { found[digest] = location }
        }
        return found
    }

    public func packExtents() throws -> [PackExtent] {
        lock.lock()
        defer { lock.unlock() }
        return packs.map { PackExtent(name: $0.key, length: $0.value) }
    }

    public func recordsEnd(inPack name: String) throws -> UInt64 {
        lock.lock()
        defer { lock.unlock() }
        return chunks.values.filter { $0.pack == name }.map { $0.offset + UInt64($0.recordLength) }.max() ?? 0
    }
}
