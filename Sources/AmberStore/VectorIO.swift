import AmberSystem
import Glibc

extension FileDescriptor {
    /// Reads into `pieces` in order, starting at `offset`, with one preadv when the kernel fills them all
    /// (it does for a regular file unless it ends first); returns the bytes read.
    func read(into pieces: [UnsafeMutableRawBufferPointer], at offset: UInt64) throws -> Int {
        let total = pieces.reduce(0) { $0 + $1.count }
        var vectors = pieces.map { iovec(iov_base: $0.baseAddress, iov_len: $0.count) }
        let first = try retryingInterrupts("preadv") { preadv(rawValue, &vectors, Int32(vectors.count), off_t(offset)) }
        guard first > 0, first < total else { return first }
        // A short read: finish piece by piece, stopping where the file ends.
        var done = first
        var skip = first
        for piece in pieces {
            guard skip < piece.count else { skip -= piece.count; continue }
            let rest = UnsafeMutableRawBufferPointer(rebasing: piece[skip...])
            let count = try read(into: rest, at: offset + UInt64(done))
            done += count
            skip = 0
            if count < rest.count { break }
        }
        return done
    }
}

extension FileDescriptor {
    /// Writes `pieces` one after another from `offset` with pwritev (at most 1024 pieces,
    /// IOV_MAX, per call), again from where a short write stopped.
    func write(_ pieces: [UnsafeRawBufferPointer], at offset: UInt64) throws {
        var vectors = pieces.filter { $0.count > 0 }.map {
            iovec(iov_base: UnsafeMutableRawPointer(mutating: $0.baseAddress), iov_len: $0.count)
        }
        var first = 0
        var position = offset
        while first < vectors.count {
            var written = try vectors.withUnsafeMutableBufferPointer { all in
                try retryingInterrupts("pwritev") {
                    pwritev(rawValue, all.baseAddress! + first, Int32(min(all.count - first, 1024)), off_t(position))
                }
            }
            position += UInt64(written)
            while first < vectors.count, written >= vectors[first].iov_len {
                written -= vectors[first].iov_len
                first += 1
            }
            if written > 0 {
                vectors[first].iov_base = vectors[first].iov_base! + written
                vectors[first].iov_len -= written
            }
        }
    }
}
