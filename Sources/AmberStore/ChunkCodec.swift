import AmberModel
import CLZ4

extension ChunkCodec {
    /// The most bytes compressing `count` bytes can take; size scratch buffers with it.
    public static func compressionBound(_ count: Int) -> Int {
        Int(LZ4_compressBound(Int32(count)))
    }

    /// Compresses `source` into `destination` with LZ4 when that shrinks it; returns the codec used and
    /// the number of bytes written (for `.raw` nothing is written: the caller stores the source as it is).
    static func compress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> (ChunkCodec, Int) {
        // Capacity one byte short of the input: LZ4 gives up (returns 0) as soon as it cannot shrink it.
        let capacity = min(destination.count, source.count - 1)
        guard capacity > 0 else { return (.raw, 0) }
        let written = LZ4_compress_default(
            source.baseAddress!.assumingMemoryBound(to: CChar.self),
            destination.baseAddress!.assumingMemoryBound(to: CChar.self),
            Int32(source.count), Int32(capacity))
        return written > 0 ? (.lz4, Int(written)) : (.raw, 0)
    }

    /// Decodes LZ4 `source` into exactly `destination.count` bytes; false if the data is malformed or
    /// does not decode to exactly that length.
    static func decompress(_ source: UnsafeRawBufferPointer, into destination: UnsafeMutableRawBufferPointer) -> Bool {
        guard source.count > 0, destination.count > 0 else { return false }
        let produced = LZ4_decompress_safe(
            source.baseAddress!.assumingMemoryBound(to: CChar.self),
            destination.baseAddress!.assumingMemoryBound(to: CChar.self),
            Int32(source.count), Int32(destination.count))
        return Int(produced) == destination.count
    }
}
