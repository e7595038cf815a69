import AmberModel
import Glibc

/// The chunk list of one image or memory region: chunk size, exact length, and one digest per chunk
/// (`ChunkDigest.zero` for chunks of zeros).
///
/// Stored as chunks itself, in two levels so that manifests of similar images deduplicate: the digest
/// array is cut into pieces of `chunkSize` bytes (2048 digests at 64 KiB) stored like any chunk, and a
/// root chunk lists the pieces:
///
///     root: "AMBM" | version u32 = 1 | chunk size u32 | 0 u32 | logical length u64 | piece count u64 | piece digests
public struct Manifest: Equatable, Sendable {
    static let magic: UInt32 = 0x4D42_4D41  // "AMBM" read little endian
    static let rootHeaderSize = 32

    /// The most chunks a manifest may list. Its digests are held in memory, 32 bytes each, and a root of
    /// zero pieces claims up to 2^38 chunks in 16 MiB: a count whose digests would take more than half
    /// of this host's memory is refused before anything is allocated (allocating it aborted).
    package static let maximumChunks = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE))) / 2 / ChunkDigest.byteCount

    public var chunkSize: Int
    public var logicalLength: UInt64
    public var digests: [ChunkDigest]

    public init(chunkSize: Int, logicalLength: UInt64, digests: [ChunkDigest]) {
        self.chunkSize = chunkSize
        self.logicalLength = logicalLength
        self.digests = digests
    }

    /// Chunks covering `length` bytes. Rounded up without adding first: a length read from a root can be
    /// anything up to 2^64-1, where `length + chunkSize - 1` would overflow.
    public static func chunkCount(length: UInt64, chunkSize: Int) -> Int {
        let (whole, rest) = length.quotientAndRemainder(dividingBy: UInt64(chunkSize))
        return Int(whole) + (rest == 0 ? 0 : 1)
    }

    /// Bytes chunk `index` covers (the last one may be short).
    public func length(ofChunk index: Int) -> Int {
        let start = UInt64(index) * UInt64(chunkSize)
        return Int(min(UInt64(chunkSize), logicalLength - start))
    }

    var digestsPerPiece: Int { chunkSize / ChunkDigest.byteCount }

    /// The digest array cut into piece-sized byte arrays.
    package func pieces() -> [[UInt8]] {
        stride(from: 0, to: digests.count, by: digestsPerPiece).map { start in
            let slice = digests[start..<min(digests.count, start + digestsPerPiece)]
            var bytes = [UInt8](repeating: 0, count: slice.count * ChunkDigest.byteCount)
            bytes.withUnsafeMutableBytes { raw in
                for (offset, digest) in slice.enumerated() {
                    digest.write(to: raw.baseAddress! + offset * ChunkDigest.byteCount)
                }
            }
            return bytes
        }
    }

    package func encodeRoot(pieces: [ChunkDigest]) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: Self.rootHeaderSize + pieces.count * ChunkDigest.byteCount)
        bytes.withUnsafeMutableBytes { raw in
            let base = raw.baseAddress!
            base.storeBytes(of: Self.magic.littleEndian, toByteOffset: 0, as: UInt32.self)
            base.storeBytes(of: UInt32(1).littleEndian, toByteOffset: 4, as: UInt32.self)
            base.storeBytes(of: UInt32(chunkSize).littleEndian, toByteOffset: 8, as: UInt32.self)
            base.storeBytes(of: logicalLength.littleEndian, toByteOffset: 16, as: UInt64.self)
            base.storeBytes(of: UInt64(pieces.count).littleEndian, toByteOffset: 24, as: UInt64.self)
            for (index, piece) in pieces.enumerated() {
                piece.write(to: base + Self.rootHeaderSize + index * ChunkDigest.byteCount)
            }
        }
        return bytes
    }

    package struct Root: Equatable {
        package var chunkSize: Int
        package var logicalLength: UInt64
        package var pieces: [ChunkDigest]
    }

    package static func decodeRoot(_ bytes: [UInt8], digest: ChunkDigest) throws -> Root {
        try bytes.withUnsafeBytes { raw in
            guard raw.count >= rootHeaderSize,
                UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) == magic,
                UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 4, as: UInt32.self)) == 1
            else {
                throw StoreError.badManifest(digest: digest, reason: "not a manifest root")
            }
            let chunkSize = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: 8, as: UInt32.self)))
            let length = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
            let count = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
            // The chunk size bounds every buffer a reader allocates (and a chunk is one pack record), so
            // it gets the bounds `ChunkStore` accepts.
            guard chunkSize >= 4096, chunkSize <= PackFormat.maxRecordPayload, chunkSize & (chunkSize - 1) == 0 else {
                throw StoreError.badManifest(digest: digest, reason: "chunk size \(chunkSize) is not a power of two from 4 KiB to 16 MiB")
            }
            guard count == UInt64(raw.count - rootHeaderSize) / UInt64(ChunkDigest.byteCount),
                (raw.count - rootHeaderSize) % ChunkDigest.byteCount == 0
            else {
                throw StoreError.badManifest(digest: digest, reason: "root lists \(count) pieces in \(raw.count - rootHeaderSize) bytes")
            }
            // The pieces are counted by the bytes that hold them (the root is at most one record), so
            // matching them bounds the length too: below 2^19 pieces x 2^19 digests x 16 MiB = 2^62 bytes,
            // which file offsets (off_t) can address.
            let chunks = chunkCount(length: length, chunkSize: chunkSize)
            let perPiece = chunkSize / ChunkDigest.byteCount
            guard Int(count) == (chunks + perPiece - 1) / perPiece else {
                throw StoreError.badManifest(digest: digest, reason: "a length of \(length) bytes does not fit its \(count) pieces")
            }
            guard chunks <= maximumChunks else {
                throw StoreError.badManifest(digest: digest, reason: "it lists \(chunks) chunks, more than this host has memory for")
            }
            let pieces = (0..<Int(count)).map { index in
                ChunkDigest(
                    bytes: UnsafeRawBufferPointer(rebasing: raw[(rootHeaderSize + index * 32)..<(rootHeaderSize + index * 32 + 32)]))!
            }
            return Root(chunkSize: chunkSize, logicalLength: length, pieces: pieces)
        }
    }

    /// A manifest and the digests of the chunks that encode it, from its root's bytes, fetching each
    /// non-zero piece with `piece` (the reader's chunk lookup; the fuzz target's own bytes).
    package static func tree(
        rootBytes: [UInt8], root: ChunkDigest,
        piece chunk: (ChunkDigest) throws -> [UInt8]
    ) throws -> (manifest: Manifest, structure: [ChunkDigest]) {
        let decoded = try decodeRoot(rootBytes, digest: root)
        let total = chunkCount(length: decoded.logicalLength, chunkSize: decoded.chunkSize)
        let perPiece = decoded.chunkSize / ChunkDigest.byteCount
        var digests: [ChunkDigest] = []
        digests.reserveCapacity(total)
        for (index, piece) in decoded.pieces.enumerated() {
            let expected = min(perPiece, total - index * perPiece)
            if piece.isZero {
                digests.append(contentsOf: repeatElement(.zero, count: expected))
                continue
            }
            let bytes = try chunk(piece)
            guard bytes.count == expected * ChunkDigest.byteCount else {
                throw StoreError.badManifest(digest: root, reason: "piece \(index) has \(bytes.count) bytes, expected \(expected * 32)")
            }
            bytes.withUnsafeBytes { raw in
                for offset in stride(from: 0, to: raw.count, by: ChunkDigest.byteCount) {
                    digests.append(ChunkDigest(bytes: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + 32)]))!)
                }
            }
        }
        let manifest = Manifest(chunkSize: decoded.chunkSize, logicalLength: decoded.logicalLength, digests: digests)
        return (manifest, [root] + decoded.pieces.filter { !$0.isZero })
    }
}

extension StoreWriter {
    /// Stores `manifest` (pieces, then root) and returns the root's digest: the name of the manifest.
    public func put(_ manifest: Manifest) throws -> ChunkDigest {
        let pieceDigests = try manifest.pieces().map { try put($0) }
        return try put(manifest.encodeRoot(pieces: pieceDigests))
    }
}

extension ChunkReader {
    /// Loads a manifest and every piece of it.
    public func manifest(_ root: ChunkDigest) throws -> Manifest {
        try manifestTree(root).manifest
    }

    /// A manifest with the digests of the chunks that encode it (its root and non-zero pieces): gc
    /// must keep those alive too.
    public func manifestTree(_ root: ChunkDigest) throws -> (manifest: Manifest, structure: [ChunkDigest]) {
        try Manifest.tree(rootBytes: try chunk(root), root: root, piece: chunk)
    }
}
