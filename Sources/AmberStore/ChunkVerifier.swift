import AmberModel
import Foundation
import Synchronization

/// A stored chunk that fails to read back as itself.
public struct ChunkDefect: Sendable, Equatable {
    public var digest: ChunkDigest
    public var location: ChunkLocation
    public var reason: String
}

extension ChunkReader {
    /// Reads, decodes and re-hashes every chunk given, on every core; returns the ones that fail. Delta
    /// chunks are rebuilt from their bases, found among `chunks` where they are (no index lookup).
    public func verify(_ chunks: [StoredChunk], progress: ProgressReport? = nil) -> [ChunkDefect] {
        let locations = Dictionary(chunks.map { ($0.digest, $0.location) }) { first, _ in first }
        let queue = WorkQueue(count: chunks.count, batch: 64)
        let defects = Mutex<[ChunkDefect]>([])
        let totals = IngestTotals()
        runWorkers(min(storeWorkerCount, max(1, chunks.count / 64))) { _ in
            var scratch = UnsafeMutableRawBufferPointer.allocate(byteCount: 0, alignment: 16)
            var decoded = UnsafeMutableRawBufferPointer.allocate(byteCount: 0, alignment: 16)
            defer { scratch.deallocate(); decoded.deallocate() }
            while let range = queue.take() {
                for chunk in chunks[range] {
                    let location = chunk.location
                    if scratch.count < location.recordLength {
                        scratch.deallocate()
                        scratch = .allocate(byteCount: location.recordLength, alignment: 16)
                    }
                    if decoded.count < location.rawLength {
                        decoded.deallocate()
                        decoded = .allocate(byteCount: location.rawLength, alignment: 16)
                    }
                    do {
                        var timings = MaterializeTimings()
                        try read(
                            chunk.digest, at: location, into: UnsafeMutableRawBufferPointer(rebasing: decoded[0..<location.rawLength]),
                            scratch: scratch, timings: &timings, bases: locations)
                    } catch {
                        let reason: String
                        switch error {
                        case StoreError.corruptChunk(_, _, _, let why): reason = why
                        case StoreError.missingPack(let name): reason = "pack \(name) is missing"
                        default: reason = "\(error)"
                        }
                        defects.withLock { $0.append(ChunkDefect(digest: chunk.digest, location: location, reason: reason)) }
                    }
                }
                let bytes = chunks[range].reduce(UInt64(0)) { $0 + UInt64($1.location.rawLength) }
                totals.progress(bytes: bytes, of: 0, report: progress)
            }
        }
        return defects.withLock { $0 }.sorted { $0.digest < $1.digest }
    }
}
