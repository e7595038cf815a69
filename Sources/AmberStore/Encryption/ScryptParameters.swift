import _CryptoExtras
import Crypto

/// scrypt's cost parameters, recorded in each key slot. The default (N = 2^15, r = 8, p = 1: 32 MiB, about
/// 0.1 s here; BENCHMARKS.md "Session 7") makes every guess at a passphrase cost an attacker that much. A
/// reader bounds what a slot asks for before deriving anything: N a power of two from 2^10 to 2^20, r 1...16 (BoringSSL's memory limit refuses more at p = 1),
/// p 1...16, and at most 1 GiB of memory and 2^23 block mixes (restic's N = 2^20, r = 8 is the top).
public struct ScryptParameters: Sendable, Equatable {
    public var n: Int
    public var r: Int
    public var p: Int

    public static let `default` = ScryptParameters(n: 1 << 15, r: 8, p: 1)
    /// For tests: fast, still within the bounds.
    public static let fastForTests = ScryptParameters(n: 1 << 10, r: 8, p: 1)

    public init(n: Int, r: Int, p: Int) {
        self.n = n
        self.r = r
        self.p = p
    }

    /// Why these parameters are refused, or nil.
    public var problem: String? {
        guard n >= 1 << 10, n <= 1 << 20, n & (n - 1) == 0 else { return "scrypt N \(n) is not a power of two from 2^10 to 2^20" }
        guard (1...16).contains(r), (1...16).contains(p) else { return "scrypt r \(r) or p \(p) out of bounds (r 1...16, p 1...16)" }
        guard 128 * n * r * p <= 1 << 30, n * r * p <= 1 << 23 else { return "scrypt N×r×p \(n)×\(r)×\(p) costs too much" }
        return nil
    }

    func derive(passphrase: [UInt8], salt: [UInt8]) throws -> SymmetricKey {
        if let problem { throw KeySlotDefect(reason: problem) }
        return try KDF.Scrypt.deriveKey(from: passphrase, salt: salt, outputByteCount: 32, rounds: n, blockSize: r, parallelism: p)
    }
}
