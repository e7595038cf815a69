/// One bit per chunk of a disk: which chunks live in an overlay, or which were written since the last
/// snapshot.
public struct DiskChunkBitmap: Equatable, Sendable {
    public let count: Int
    private(set) var words: [UInt64]

    public init(count: Int) {
        self.count = count
        words = [UInt64](repeating: 0, count: (count + 63) / 64)
    }

    public subscript(index: Int) -> Bool {
        get { words[index >> 6] & (1 << UInt64(index & 63)) != 0 }
        set {
            if newValue {
                words[index >> 6] |= 1 << UInt64(index & 63)
            } else {
                words[index >> 6] &= ~(1 << UInt64(index & 63))
            }
        }
    }

    public var isEmpty: Bool { words.allSatisfy { $0 == 0 } }

    public var setCount: Int { words.reduce(0) { $0 + $1.nonzeroBitCount } }

    /// The set chunks, ascending.
    public var indices: [Int] {
        var result: [Int] = []
        for (position, word) in words.enumerated() {
            var remaining = word
            while remaining != 0 {
                result.append(position * 64 + remaining.trailingZeroBitCount)
                remaining &= remaining - 1
            }
        }
        return result
    }

    public mutating func formUnion(_ other: DiskChunkBitmap) {
        for index in words.indices { words[index] |= other.words[index] }
    }

    /// The little-endian bytes of the bitmap, as stored in an overlay's map file.
    static func byteCount(for count: Int) -> Int { (count + 63) / 64 * 8 }

    func serialized() -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(words.count * 8)
        for word in words { withUnsafeBytes(of: word.littleEndian) { bytes.append(contentsOf: $0) } }
        return bytes
    }

    /// nil when bits beyond `count` are set (a map that does not belong to this disk).
    init?(count: Int, serialized bytes: UnsafeRawBufferPointer) {
        self.init(count: count)
        guard bytes.count == Self.byteCount(for: count) else { return nil }
        for index in words.indices {
            words[index] = UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: index * 8, as: UInt64.self))
        }
        let spare = words.count * 64 - count
        if spare > 0, let last = words.last, last >> UInt64(64 - spare) != 0 { return nil }
    }
}
