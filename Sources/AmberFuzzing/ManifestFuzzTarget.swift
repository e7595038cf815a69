import AmberModel
import AmberStore

/// A manifest as `verify`, `gc`, `export` and a restore read it: the root decoded and bounded, then its
/// pieces assembled into one digest per chunk.
///
/// Input: a root's length (u32, little endian), the root, then the bytes every non-zero piece reads
/// as (a store would look each up by digest; one shared answer reaches the same checks).
enum ManifestFuzzTarget {
    /// Roots that list more chunks than this are decoded and bounded but not assembled: a real 1 TiB disk
    /// lists 16 Mi chunks (512 MiB of digests), a cost its readers pay by design, not one worth a fuzz run.
    static let largestAssembled = 1 << 20
    static let name = ChunkDigest(bytes: [UInt8](repeating: 0xAB, count: ChunkDigest.byteCount))!

    static func run(_ bytes: UnsafeRawBufferPointer) throws {
        guard bytes.count >= 4 else { return }
        let rootLength = min(Int(UInt32(littleEndian: bytes.loadUnaligned(as: UInt32.self))), bytes.count - 4)
        let rootBytes = Array(bytes[4..<(4 + rootLength)])
        let pieceBytes = Array(bytes[(4 + rootLength)...])
        let root: Manifest.Root
        do {
            root = try Manifest.decodeRoot(rootBytes, digest: name)
        } catch {
            try requireOneLine(error, from: "the manifest root decoder")
            return
        }
        let chunks = Manifest.chunkCount(length: root.logicalLength, chunkSize: root.chunkSize)
        try requireBounded(root, chunks: chunks, rootLength: rootBytes.count)
        try requireReencodes(root)
        guard chunks <= largestAssembled else { return }

        let manifest: Manifest
        do {
            manifest = try Manifest.tree(rootBytes: rootBytes, root: name, piece: { _ in pieceBytes }).manifest
        } catch {
            try requireOneLine(error, from: "the manifest reader")
            return
        }
        try require(manifest.digests.count == chunks, "manifest of \(chunks) chunks assembled \(manifest.digests.count) digests")
        if chunks > 0 {
            let last = manifest.length(ofChunk: chunks - 1)
            try require((1...root.chunkSize).contains(last), "last chunk covers \(last) bytes")
        }
        let pieces = manifest.pieces()
        try require(pieces.count == root.pieces.count, "re-cut into \(pieces.count) pieces, the root lists \(root.pieces.count)")
        for (index, piece) in root.pieces.enumerated() where !piece.isZero {
            try require(pieces[index] == pieceBytes, "piece \(index) re-cut differs from the bytes it was read from")
        }
    }

    private static func requireBounded(_ root: Manifest.Root, chunks: Int, rootLength: Int) throws {
        try require(
            root.chunkSize >= 4096 && root.chunkSize <= PackFormat.maxRecordPayload && root.chunkSize.nonzeroBitCount == 1,
            "chunk size \(root.chunkSize) accepted")
        try require(
            32 + root.pieces.count * ChunkDigest.byteCount == rootLength, "\(root.pieces.count) pieces in a root of \(rootLength) bytes")
        try require(chunks <= Manifest.maximumChunks, "\(chunks) chunks accepted, more than \(Manifest.maximumChunks)")
        let perPiece = root.chunkSize / ChunkDigest.byteCount
        try require(root.pieces.count == (chunks + perPiece - 1) / perPiece, "\(root.pieces.count) pieces for \(chunks) chunks")
    }

    /// The root, encoded again, decodes to the same root.
    private static func requireReencodes(_ root: Manifest.Root) throws {
        let encoded = Manifest(chunkSize: root.chunkSize, logicalLength: root.logicalLength, digests: []).encodeRoot(pieces: root.pieces)
        let again = try Manifest.decodeRoot(encoded, digest: name)
        try require(again == root, "a root re-encoded decodes differently")
    }
}
