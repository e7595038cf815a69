import Crypto
import Foundation

/// The keys of an encrypted store, all derived with HKDF-SHA256 from its one random 32-byte master key (which
/// the store never holds in the clear: key slots hold it wrapped). Distinct info strings keep each key to its
/// one use: a chunk-name key for keyed digests, a data key for pack payloads, a record key for record files,
/// and a check value (in `STORE`) that tells a master key of this store from any other.
public struct StoreKeys: Sendable {
    public static let masterKeySize = 32

    public let master: [UInt8]
    public let namer: ChunkNamer
    public let payloads: PayloadSealer
    public let records: PayloadSealer
    /// 16 bytes, hex in `STORE` as `key-check`: reveals nothing of the key (an HKDF output).
    public let check: String

    public init(master: [UInt8]) {
        precondition(master.count == Self.masterKeySize)
        self.master = master
        let input = SymmetricKey(data: master)
        func derive(_ info: String, _ count: Int = 32) -> SymmetricKey {
            HKDF<SHA256>.deriveKey(inputKeyMaterial: input, info: Array(info.utf8), outputByteCount: count)
        }
        namer = .keyed(derive("amber chunk names 1"))
        payloads = PayloadSealer(key: derive("amber pack payloads 1"))
        records = PayloadSealer(key: derive("amber record files 1"))
        check = derive("amber key check 1", 16).withUnsafeBytes { Hex.encode(Array($0)) }
    }

    public static func randomMaster() -> [UInt8] {
        SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
    }
}

/// Lowercase hex, and its strict inverse (even length, hex digits only).
enum Hex {
    static func encode(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func decode(_ text: Substring) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var out = [UInt8]()
        out.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    private static func nibble(_ c: UInt8) -> UInt8? {
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        default: return nil
        }
    }
}
