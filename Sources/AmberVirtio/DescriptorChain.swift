import AmberDisk

/// One request taken from a virtqueue: the head index to return in the used ring, and the guest
/// buffers it names, already bounds-checked and mapped, split into those the device may only read and
/// those it may only write (in chain order; framing between buffers carries no meaning).
public struct DescriptorChain {
    public let head: UInt16
    public internal(set) var readable: [UnsafeMutableRawBufferPointer] = []
    public internal(set) var writable: [UnsafeMutableRawBufferPointer] = []
    /// The guest-physical address of each writable buffer, for reporting device writes.
    var writableAddresses: [UInt64] = []

    public var readableLength: Int { readable.reduce(0) { $0 + $1.count } }
    public var writableLength: Int { writable.reduce(0) { $0 + $1.count } }

    /// `count` bytes of the readable buffers starting at byte `offset` of their concatenation.
    public func readableRange(from offset: Int, count: Int) -> [UnsafeMutableRawBufferPointer] {
        readable.byteRange(from: offset, count: count)
    }

    /// `count` bytes of the writable buffers starting at byte `offset` of their concatenation.
    public func writableRange(from offset: Int, count: Int) -> [UnsafeMutableRawBufferPointer] {
        writable.byteRange(from: offset, count: count)
    }

    /// Copies `count` readable bytes from `offset`; nil when the chain has fewer.
    public func copyReadable(from offset: Int, count: Int) -> [UInt8]? {
        let pieces = readableRange(from: offset, count: count)
        guard pieces.reduce(0, { $0 + $1.count }) == count else { return nil }
        return pieces.flatMap { Array($0) }
    }

    /// Copies `bytes` into the writable buffers from `offset`; returns how many fitted.
    @discardableResult
    public func copyToWritable(_ bytes: [UInt8], at offset: Int) -> Int {
        var copied = 0
        for piece in writableRange(from: offset, count: bytes.count) {
            piece.copyBytes(from: bytes[copied..<(copied + piece.count)])
            copied += piece.count
        }
        return copied
    }
}
