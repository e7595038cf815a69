import AmberModel
import AmberStore
import AmberSystem
import Foundation
import Glibc

/// `complete.json` in a snapshot's cache entry (`MaterializedSnapshot`), written last and durably: the
/// files taken out, their sizes, and for each a few non-zero chunks' digests from its manifest. Every use
/// checks the sizes and re-hashes those chunks (a few hundred KiB, well under a millisecond), so an entry
/// cut short by a power failure (no marker), or a file truncated or zeroed behind Amber's back, is noticed
/// and taken out of the store again instead of being handed to a guest.
struct SnapshotCacheMarker: Codable, Equatable {
    struct Sample: Codable, Equatable {
        var offset: UInt64
        var length: Int
        var sha256: String
    }

    struct File: Codable, Equatable {
        var name: String
        var size: UInt64
        var samples: [Sample]
    }

    static let fileName = "complete.json"
    static let samplesPerFile = 4
    /// A marker is a few hundred bytes; anything much larger is not one.
    static let maximumBytes = 64 << 10
    /// No chunk is larger; a sample that claims to be is not read.
    static let maximumSampleBytes = PackFormat.maxRecordPayload

    var files: [File]

    /// Describes `name` as `manifest` says it was written: up to `samplesPerFile` non-zero chunks, spread out.
    static func file(_ name: String, manifest: Manifest) -> File {
        let nonZero = manifest.digests.indices.filter { !manifest.digests[$0].isZero }
        let count = min(samplesPerFile, nonZero.count)
        let samples = (0..<count).map { sample -> Sample in
            let index = nonZero[sample * nonZero.count / count]
            return Sample(
                offset: UInt64(index) * UInt64(manifest.chunkSize), length: manifest.length(ofChunk: index),
                sha256: manifest.digests[index].hex)
        }
        return File(name: name, size: manifest.logicalLength, samples: samples)
    }

    static func read(in directory: URL) -> SnapshotCacheMarker? {
        let path = directory.appendingPathComponent(fileName).path
        guard let file = try? FileDescriptor.open(path, O_RDONLY), let size = try? file.size(), size <= maximumBytes,
            let data = try? Data(contentsOf: URL(fileURLWithPath: path))
        else { return nil }
        return try? JSONDecoder().decode(SnapshotCacheMarker.self, from: data)
    }

    /// Written under a temporary name, fsynced, renamed, and the directory fsynced: after a crash the
    /// marker is whole or absent.
    func write(in directory: URL) throws {
        let path = directory.appendingPathComponent(Self.fileName).path
        let temporary = TemporaryFile.path(replacing: path)
        do {
            let file = try FileDescriptor.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
            try JSONEncoder().encode(self).withUnsafeBytes { try file.write($0, at: 0) }
            try file.sync()
            try retryingInterrupts("rename \(temporary)") { rename(temporary, path) }
            try FileDescriptor.syncDirectory(containing: path)
        } catch {
            unlink(temporary)
            throw error
        }
    }

    /// Nil when every file is there with its size and sampled content; otherwise what is wrong.
    func problem(in directory: URL) -> String? {
        for file in files {
            let path = directory.appendingPathComponent(file.name).path
            guard let descriptor = try? FileDescriptor.open(path, O_RDONLY) else { return "\(file.name) is missing" }
            guard let size = try? descriptor.size(), size == file.size else {
                return "\(file.name) is not \(file.size) bytes"
            }
            for sample in file.samples {
                guard sample.length > 0, sample.length <= Self.maximumSampleBytes,
                    sample.offset <= file.size, UInt64(sample.length) <= file.size - sample.offset
                else {
                    return "the marker's sample of \(file.name) lies outside it"
                }
                var bytes = [UInt8](repeating: 0, count: sample.length)
                let read = (try? bytes.withUnsafeMutableBytes { try descriptor.read(into: $0, at: sample.offset) }) ?? -1
                guard read == sample.length, bytes.withUnsafeBytes({ ChunkDigest.of($0).hex }) == sample.sha256 else {
                    return "\(file.name) does not hold its content at offset \(sample.offset)"
                }
            }
        }
        return nil
    }
}
