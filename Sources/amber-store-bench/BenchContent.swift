import Foundation

/// Fast deterministic content for the benchmark: random words (incompressible) and text-like bytes
/// (compressible about 2-3x by LZ4, like logs or source), each chunk unique so nothing dedups by accident.
struct BenchContent {
    private var state: UInt64

    init(seed: UInt64) {
        state = seed | 1
    }

    mutating func next() -> UInt64 {
        state ^= state >> 12; state ^= state << 25; state ^= state >> 27
        return state &* 0x2545_F491_4F6C_DD1D
    }

    mutating func fillRandom(_ buffer: UnsafeMutableRawBufferPointer) {
        let words = buffer.count / 8
        for i in 0..<words { buffer.storeBytes(of: next(), toByteOffset: i * 8, as: UInt64.self) }
        for i in (words * 8)..<buffer.count { buffer[i] = UInt8(truncatingIfNeeded: next()) }
    }

    private static let words: [[UInt8]] = [
        "the", "of", "and", "kernel", "memory", "page", "snapshot", "amber", "chunk", "store", "vm", "disk", "error",
        "info:", "2024-06-01", "GET", "/api/v1/items", "200", "user", "session", "cache", "hit", "miss", "latency=",
        "ms", "request", "response", "\n", "{", "}", "\"id\":", "null", "true", "false", "INFO", "WARN",
    ].map { Array($0.utf8) }

    mutating func fillText(_ buffer: UnsafeMutableRawBufferPointer) {
        var offset = 0
        while offset < buffer.count {
            let pick = next()
            let word = Self.words[Int(pick % UInt64(Self.words.count))]
            let n = min(word.count, buffer.count - offset)
            word.withUnsafeBytes { buffer.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: n) }
            offset += n
            if offset < buffer.count {
                // A number now and then keeps chunks unique and LZ4 honest.
                buffer[offset] = (pick >> 40) & 7 == 0 ? UInt8(ascii: "0") + UInt8((pick >> 20) % 10) : UInt8(ascii: " ")
                offset += 1
            }
        }
    }

    enum Kind { case zero, text, random }

    /// The kind of 1 MiB region `index`: half zero, a quarter text, a quarter random, interleaved.
    static func kind(ofRegion index: Int) -> Kind {
        var mixer = BenchContent(seed: UInt64(index) &* 0x9E37_79B9_7F4A_7C15)
        switch mixer.next() % 4 {
        case 0, 1: return .zero
        case 2: return .text
        default: return .random
        }
    }
}
