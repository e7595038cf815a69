/// Where the ingest pipeline's bytes come from.
///
/// What is stored must be what was hashed: a chunk is hashed, compressed and written from one private
/// copy, never from memory someone else may write meanwhile (a shared mapping of a file another
/// program is writing, a live guest's memory). Reading such memory twice, once to hash and once to
/// write, stores a chunk whose bytes do not match its digest, and dedup then trusts that chunk for
/// every later import of the content the digest names.
enum IngestSource {
    /// Memory that may change while it is read: zero chunks are recognised in place (they are stored
    /// as nothing), every other chunk is copied once into the worker's buffer by the pipeline.
    case shared(UnsafeRawBufferPointer)
    /// A reader that fills the worker's buffer with bytes at an offset (pread, /proc/<pid>/mem, an
    /// overlay disk): the buffer is already the private copy.
    case reading(@Sendable (UInt64, UnsafeMutableRawBufferPointer) throws -> Void)

    /// Fills `buffer` with the bytes at `offset` when this source reads, and returns nil; a shared
    /// source returns its memory at `offset` instead, for the pipeline to copy chunk by chunk (after
    /// skipping zero chunks, which need no copy).
    func fill(_ buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> UnsafeRawBufferPointer? {
        switch self {
        case .shared(let memory):
            return UnsafeRawBufferPointer(rebasing: memory[Int(offset)..<(Int(offset) + buffer.count)])
        case .reading(let read):
            try read(offset, buffer)
            return nil
        }
    }
}
