import AmberModel
import Foundation
import Synchronization

/// Random-access reads of a manifest's bytes at any offset, decoding only the chunks a read touches.
/// A disk backed by the store reads through one of these.
public final class ManifestFile: Sendable {
    public let manifest: Manifest
    private let reader: ChunkReader
    /// The last chunk read, by its index in the manifest.
    private let cache = Mutex<(index: Int, bytes: [UInt8])>((-1, []))

    public init(reader: ChunkReader, root: ChunkDigest) throws {
        self.reader = reader
        self.manifest = try reader.manifest(root)
    }

    public var length: UInt64 { manifest.logicalLength }

    /// Fills `buffer` from `offset`; returns the bytes read (fewer only at the end of the manifest).
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        guard offset < manifest.logicalLength, buffer.count > 0 else { return 0 }
        let total = Int(min(UInt64(buffer.count), manifest.logicalLength - offset))
        var done = 0
        while done < total {
            let position = offset + UInt64(done)
            let index = Int(position / UInt64(manifest.chunkSize))
            let within = Int(position % UInt64(manifest.chunkSize))
            let count = min(total - done, manifest.length(ofChunk: index) - within)
            let destination = UnsafeMutableRawBufferPointer(rebasing: buffer[done..<(done + count)])
            let digest = manifest.digests[index]
            if digest.isZero {
                destination.initializeMemory(as: UInt8.self, repeating: 0)
            } else {
                try withChunk(index, digest) { bytes in
                    destination.copyMemory(from: UnsafeRawBufferPointer(rebasing: bytes[within..<(within + count)]))
                }
            }
            done += count
        }
        return total
    }

    /// Serves repeated small reads of one chunk from a one-chunk cache; reads of other chunks run
    /// outside the lock, so concurrent readers (several disk queues) do not wait on each other.
    private func withChunk(_ index: Int, _ digest: ChunkDigest, _ body: (UnsafeRawBufferPointer) -> Void) throws {
        let served = cache.withLock { cache in
            guard cache.index == index else { return false }
            cache.bytes.withUnsafeBytes(body)
            return true
        }
        guard !served else { return }
        let bytes = try reader.chunk(digest)
        bytes.withUnsafeBytes(body)
        cache.withLock { $0 = (index, bytes) }
    }
}
