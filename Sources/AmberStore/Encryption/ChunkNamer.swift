import AmberModel
import Crypto

/// How a store names its chunks. A plain store names a chunk by the SHA-256 of its raw bytes; an encrypted
/// store by HMAC-SHA256 under its chunk-name key, so that equal content is not recognisable across stores or by
/// whoever holds the packs, while inside the store names stay deterministic and dedup works as before.
/// Every place that names a chunk for the store (ingest, `put`, manifests, reads that re-hash) goes through
/// the store's namer. The zero chunk keeps the all-zero sentinel in both cases (callers elide zeros first).
/// (`@unchecked`: `SymmetricKey` is an immutable value that swift-crypto 3.12 does not mark Sendable.)
public enum ChunkNamer: @unchecked Sendable {
    case sha256
    case keyed(SymmetricKey)

    public func digest(of data: UnsafeRawBufferPointer) -> ChunkDigest {
        switch self {
        case .sha256:
            return ChunkDigest.of(data)
        case .keyed(let key):
            let code = HMAC<SHA256>.authenticationCode(for: data, using: key)
            return code.withUnsafeBytes { ChunkDigest(bytes: $0)! }
        }
    }

    public func digest(of bytes: [UInt8]) -> ChunkDigest {
        bytes.withUnsafeBytes { digest(of: $0) }
    }

    /// What the digest is, for messages ("does not match its SHA-256").
    public var digestName: String {
        switch self {
        case .sha256: return "SHA-256"
        case .keyed: return "keyed digest"
        }
    }
}
