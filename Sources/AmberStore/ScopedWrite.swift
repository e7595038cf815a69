import AmberSystem

extension ChunkStore {
    /// The one way to write to the store: `body` stores chunks with a writer; then its packs are made
    /// durable (`seal`) and `commit` records what was stored (the caller's catalog transaction). Only when
    /// `commit` returns are the writer's locks released with its records kept; if `body`, the seal or
    /// `commit` throws, the packs are cut back to what they held before (packs the writer created are
    /// removed) and the error is rethrown. A process killed at any point leaves only pack bytes no
    /// catalog row points at, as before: the order (data, fsync, catalog) is the same.
    ///
    /// `exclusiveLease` is gc's: it already holds the store lease exclusively and writes only to packs
    /// it creates.
    public func write<Stored, Committed>(
        index: ChunkIndex, exclusiveLease: FileLock? = nil,
        _ body: (StoreWriter) throws -> Stored,
        commit: (WriteCommit, Stored) throws -> Committed
    ) throws -> Committed {
        let writer =
            try exclusiveLease.map { StoreWriter(store: self, index: index, exclusiveLease: $0) }
            ?? StoreWriter(store: self, index: index)
        do {
            let stored = try body(writer)
            let committed = try commit(try writer.seal(), stored)
            writer.finish(committed: true)
            return committed
        } catch {
            writer.finish(committed: false)
            throw error
        }
    }
}

extension InMemoryChunkIndex {
    /// A write to `store` whose commit is recording its chunks in this index (tools and tests that keep no
    /// catalog).
    public func write<Stored>(to store: ChunkStore, _ body: (StoreWriter) throws -> Stored) throws -> Stored {
        try store.write(index: self, body) { sealed, stored in
            record(sealed)
            return stored
        }
    }
}
