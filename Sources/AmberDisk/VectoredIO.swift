import AmberSystem
import Glibc

/// Moves a request's guest buffers to or from the image with preadv/pwritev: one system call for a
/// whole request in the common case, continuing after partial transfers.
enum VectoredIO {
    /// Linux's IOV_MAX: the most buffers one call takes.
    static let maximumBuffers = 1024

    /// Fills `buffers` from `offset`; false when the file ends first.
    static func read(_ file: FileDescriptor, into buffers: [UnsafeMutableRawBufferPointer], at offset: UInt64) throws -> Bool {
        try transfer(buffers, at: offset, "preadv") { preadv(file.rawValue, $0, $1, $2) }
    }

    static func write(_ file: FileDescriptor, from buffers: [UnsafeMutableRawBufferPointer], at offset: UInt64) throws -> Bool {
        try transfer(buffers, at: offset, "pwritev") { pwritev(file.rawValue, $0, $1, $2) }
    }

    private static func transfer(
        _ buffers: [UnsafeMutableRawBufferPointer], at offset: UInt64, _ name: String,
        _ call: (UnsafePointer<iovec>, Int32, off_t) -> Int
    ) throws -> Bool {
        var pending = buffers.filter { $0.count > 0 }[...]
        var position = offset
        while !pending.isEmpty {
            var vectors = pending.prefix(maximumBuffers).map { iovec(iov_base: $0.baseAddress, iov_len: $0.count) }
            let done = try retryingInterrupts(name) { call(&vectors, Int32(vectors.count), off_t(position)) }
            guard done > 0 else { return false }
            position += UInt64(done)
            var consumed = done
            while consumed > 0, let first = pending.first {
                if consumed >= first.count {
                    consumed -= first.count
                    pending.removeFirst()
                } else {
                    pending[pending.startIndex] = UnsafeMutableRawBufferPointer(rebasing: first[consumed...])
                    consumed = 0
                }
            }
        }
        return true
    }
}
