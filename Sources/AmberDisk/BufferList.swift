/// A request's bytes as a list of buffers (a virtio chain's guest buffers, in order): what backends read
/// into and write from, and how a request is cut where its bytes come from different places.
extension Array where Element == UnsafeMutableRawBufferPointer {
    var totalByteCount: Int { reduce(0) { $0 + $1.count } }

    /// `count` bytes of the buffers starting at byte `offset` of their concatenation.
    package func byteRange(from offset: Int, count: Int) -> [UnsafeMutableRawBufferPointer] {
        var pieces: [UnsafeMutableRawBufferPointer] = []
        var skip = offset
        var remaining = count
        for buffer in self where remaining > 0 {
            if skip >= buffer.count {
                skip -= buffer.count
                continue
            }
            let take = Swift.min(buffer.count - skip, remaining)
            pieces.append(UnsafeMutableRawBufferPointer(rebasing: buffer[skip..<(skip + take)]))
            remaining -= take
            skip = 0
        }
        return pieces
    }
}
