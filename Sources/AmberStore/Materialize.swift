import AmberSystem
import Foundation
import Glibc

extension ChunkReader {
    /// Locations of every distinct non-zero chunk of `manifest`; throws naming the first one missing.
    func locations(for manifest: Manifest) throws -> [ChunkDigest: ChunkLocation] {
        let wanted = Array(Set(manifest.digests.filter { !$0.isZero }))
        var found: [ChunkDigest: ChunkLocation] = [:]
        found.reserveCapacity(wanted.count)
        for start in stride(from: 0, to: wanted.count, by: 4096) {
            let batch = Array(wanted[start..<min(wanted.count, start + 4096)])
            found.merge(try index.locations(of: batch)) { first, _ in first }
        }
        if let missing = wanted.first(where: { found[$0] == nil }) { throw StoreError.missingChunk(missing) }
        return found
    }

    /// Writes the manifest's bytes into `file` (a file or memfd), which ends up exactly the manifest's
    /// length; zero chunks are left as holes. Every chunk is checked against its digest.
    public func materialize(_ manifest: Manifest, into file: FileDescriptor,
                            progress: ((UInt64, UInt64) -> Void)? = nil) throws {
        let locations = try locations(for: manifest)
        try file.truncate(to: 0)
        try file.truncate(to: manifest.logicalLength)
        let count = manifest.digests.count
        let queue = WorkQueue(count: count, batch: 16)
        let totals = IngestTotals()
        let maxRecord = PackFormat.recordHeaderSize + max(manifest.chunkSize, ChunkCodec.compressionBound(manifest.chunkSize))
        runWorkers(min(storeWorkerCount, max(1, count / 16))) { _ in
            let scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: maxRecord, alignment: 16)
            let output = UnsafeMutableRawBufferPointer.allocate(byteCount: manifest.chunkSize, alignment: 4096)
            defer { scratch.deallocate(); output.deallocate() }
            while let range = queue.take() {
                do {
                    for index in range {
                        let digest = manifest.digests[index]
                        guard !digest.isZero else { continue }
                        let bytes = try decoded(digest, at: locations[digest]!, expectedLength: manifest.length(ofChunk: index),
                                                decodeInto: output, scratch: scratch)
                        try file.write(bytes, at: UInt64(index) * UInt64(manifest.chunkSize))
                    }
                    let start = UInt64(range.lowerBound) * UInt64(manifest.chunkSize)
                    let end = min(manifest.logicalLength, UInt64(range.upperBound) * UInt64(manifest.chunkSize))
                    totals.progress(bytes: end - start, of: manifest.logicalLength, report: progress)
                } catch {
                    queue.fail(error)
                }
            }
        }
        try queue.throwIfFailed()
    }

    /// Materializes the manifest named `root` as the file `path`: written beside it under a temporary
    /// name and renamed into place only when complete, so a failure never leaves a partial file.
    @discardableResult
    public func materialize(_ root: ChunkDigest, toPath path: String,
                            progress: ((UInt64, UInt64) -> Void)? = nil) throws -> Manifest {
        let manifest = try self.manifest(root)
        let temporary = path + ".amber-partial-\(getpid())"
        do {
            let file = try FileDescriptor.open(temporary, O_RDWR | O_CREAT | O_TRUNC)
            try materialize(manifest, into: file, progress: progress)
            try retryingInterrupts("rename \(temporary)") { rename(temporary, path) }
        } catch {
            unlink(temporary)
            throw StoreError.from(error, path: path)
        }
        return manifest
    }
}
