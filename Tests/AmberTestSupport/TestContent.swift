import Crypto
import Foundation

/// Deterministic test content of the kinds a store must round-trip: random (incompressible), text-like
/// (compressible), sparse (islands between runs of zeros).
public enum TestContent {
    /// xorshift64*: fast, repeatable, incompressible enough.
    public static func random(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed | 1
        var bytes = [UInt8](repeating: 0, count: count)
        bytes.withUnsafeMutableBytes { raw in
            var offset = 0
            while offset < count {
                state ^= state >> 12; state ^= state << 25; state ^= state >> 27
                var word = state &* 0x2545_F491_4F6C_DD1D
                let n = min(8, count - offset)
                withUnsafeBytes(of: &word) { raw.baseAddress!.advanced(by: offset).copyMemory(from: $0.baseAddress!, byteCount: n) }
                offset += n
            }
        }
        return bytes
    }

    public static func text(_ count: Int, seed: UInt64) -> [UInt8] {
        let words = ["amber", "snapshot", "chunk", "kernel", "memory", "page", "the", "of", "and", "vm", "disk", "store\n"]
        let picks = random(count / 3 + 16, seed: seed)
        var out: [UInt8] = []
        out.reserveCapacity(count + 16)
        var i = 0
        while out.count < count {
            out += Array(words[Int(picks[i % picks.count]) % words.count].utf8)
            out.append(UInt8(ascii: " "))
            i += 1
        }
        return Array(out.prefix(count))
    }

    /// 4 KiB data islands, one at every MiB, between runs of zeros.
    public static func sparse(_ count: Int, seed: UInt64) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        let island = random(4096, seed: seed)
        for start in stride(from: 0, to: count, by: 1 << 20) {
            let n = min(island.count, count - start)
            bytes.replaceSubrange(start..<(start + n), with: island[0..<n])
        }
        return bytes
    }

    public static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    public static func sha256(_ bytes: [UInt8]) -> String {
        SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }

    public static func sha256(ofFile path: String) throws -> String {
        sha256(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
    }
}
