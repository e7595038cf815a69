import Crypto
import Foundation

/// AES-256-GCM over one payload: the sealed form is a 12-byte random nonce, the ciphertext (as long as the
/// plaintext) and the 16-byte tag. What must not be moved onto another payload (a pack record's header, a
/// record file's type) is bound as additional authenticated data, so a swapped header fails to open.
///
/// Nonces are random: under one key that is safe for about 2^32 seals (NIST SP 800-38D), 256 TiB of 64 KiB
/// chunks, beyond what one store holds.
/// (`@unchecked`: `SymmetricKey` is an immutable value that swift-crypto 3.12 does not mark Sendable.)
public struct PayloadSealer: @unchecked Sendable {
    public static let nonceSize = 12
    public static let tagSize = 16
    /// What sealing adds to a payload's length.
    public static let overhead = nonceSize + tagSize

    let key: SymmetricKey

    public init(key: SymmetricKey) {
        self.key = key
    }

    /// Seals `plaintext` into `destination`, which holds at least `plaintext.count + overhead` bytes; returns
    /// the sealed length. `destination` may start at the plaintext itself (sealing in place): the sealed box is
    /// complete before anything is copied into it.
    /// Sealing cannot fail: the key is always 256 bits and the nonce 12 random bytes (what AES.GCM.seal checks).
    public func seal(_ plaintext: UnsafeRawBufferPointer, authenticating header: UnsafeRawBufferPointer,
                     into destination: UnsafeMutableRawBufferPointer) -> Int {
        let box = try! AES.GCM.seal(plaintext, using: key, authenticating: header)
        let length = Self.nonceSize + plaintext.count + Self.tagSize
        precondition(destination.count >= length, "sealing buffer too small")
        // 12-byte nonces: the combined form is exactly nonce, ciphertext, tag.
        let combined = box.combined!
        precondition(combined.count == length)
        combined.copyBytes(to: destination.baseAddress!.assumingMemoryBound(to: UInt8.self), count: length)
        return length
    }

    public func seal(_ plaintext: [UInt8], authenticating header: [UInt8]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: plaintext.count + Self.overhead)
        _ = plaintext.withUnsafeBytes { text in
            header.withUnsafeBytes { aad in out.withUnsafeMutableBytes { seal(text, authenticating: aad, into: $0) } }
        }
        return out
    }

    /// The plaintext of `sealed`, or nil when it does not open (wrong key, other header, damaged bytes).
    public func open(_ sealed: UnsafeRawBufferPointer, authenticating header: UnsafeRawBufferPointer) -> Data? {
        guard sealed.count >= Self.overhead,
              let box = try? AES.GCM.SealedBox(combined: Data(bytes: sealed.baseAddress!, count: sealed.count)) else { return nil }
        return try? AES.GCM.open(box, using: key, authenticating: header)
    }

    public func open(_ sealed: [UInt8], authenticating header: [UInt8]) -> [UInt8]? {
        sealed.withUnsafeBytes { box in header.withUnsafeBytes { aad in open(box, authenticating: aad).map { [UInt8]($0) } } }
    }
}
