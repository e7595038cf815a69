import AmberModel

/// Which chunk each stored delta is rebuilt from, taken from the index, so chains can be followed
/// (by gc's mark, by verify's list of dependents) without reading any record.
public struct DeltaBases: Sendable {
    private var baseOf: [ChunkDigest: ChunkDigest] = [:]

    public init(_ chunks: [StoredChunk]) {
        for chunk in chunks {
            if let base = chunk.location.base { baseOf[chunk.digest] = base }
        }
    }

    /// `digests` and every base their chains reach. A chain is followed only while it reaches chunks
    /// not yet included, so an index whose bases loop (a crafted one) cannot hang the caller.
    public func closure(of digests: Set<ChunkDigest>) -> Set<ChunkDigest> {
        var all = digests
        for digest in digests {
            var next = baseOf[digest]
            while let base = next, all.insert(base).inserted {
                next = baseOf[base]
            }
        }
        return all
    }
}
