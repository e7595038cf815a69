import AmberModel
import Crypto

extension ChunkDigest {
    /// SHA-256 of `data`; a buffer of zeros is still hashed here (callers elide zero chunks first).
    public static func of(_ data: UnsafeRawBufferPointer) -> ChunkDigest {
        let hash = SHA256.hash(data: data)
        return hash.withUnsafeBytes { ChunkDigest(bytes: $0)! }
    }
}
