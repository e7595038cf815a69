import AmberCatalog
import AmberModel
import AmberStore
import Foundation

/// What `amber store repair` did and what it could not do.
public struct RepairReport: Sendable, Codable {
    /// A snapshot file taken out of the store earlier (the restore cache) that gave damaged chunks back.
    public struct Restored: Sendable, Codable, Equatable {
        public var owner: String
        public var file: String
        public var newChunks: Int
    }

    /// What `verify` found first (bad chunks are quarantined there).
    public var found: VerificationReport
    public var restored: [Restored]
    /// Images and snapshots still damaged after the repair, each with what the user can do.
    public var unrepaired: [String: String]

    public var isClean: Bool { unrepaired.isEmpty }
}

extension StoreContext {
    /// Verifies the store (quarantining bad chunks), then stores damaged chunks again from the one other
    /// copy Amber keeps: a snapshot's files in the restore cache (`<home>/cache/snapshots/<id>/`), which were
    /// checked chunk by chunk when they were taken out. Each cached file is ingested whole and kept only if
    /// it gives back exactly the snapshot's manifest root, so a cache file that differs adds nothing. Last,
    /// verifies again and names what is still damaged with what to do about it.
    public func repair(progress: ProgressReport? = nil) throws -> RepairReport {
        let found = try verify(progress: progress)
        guard !found.isClean else { return RepairReport(found: found, restored: [], unrepaired: [:]) }
        var restored: [RepairReport.Restored] = []
        let damaged = Set(found.damaged)
        for snapshot in try catalog.read({ try $0.snapshots() }) where damaged.contains(Self.owner(of: snapshot)) {
            restored += try restoreFromCache(snapshot)
        }
        let after = restored.isEmpty ? found : try verify()
        var unrepaired: [String: String] = [:]
        for owner in after.damaged {
            unrepaired[owner] = Self.advice(for: owner)
        }
        // Records and rows that disagree, and damaged record files: `recover`'s work, which the problem names. (A
        // record whose chunks are bad is already named above, by its owner.)
        for problem in after.recordProblems where problem.problem.contains("recover") || problem.record.hasPrefix("record file") {
            unrepaired[problem.record] = problem.problem
        }
        return RepairReport(found: found, restored: restored, unrepaired: unrepaired)
    }

    static func owner(of snapshot: SnapshotRecord) -> String { "snapshot \(snapshot.vm)/\(snapshot.id)" }

    private static func advice(for owner: String) -> String {
        if owner.hasPrefix("image ") {
            let name = owner.dropFirst("image ".count)
            return "import its source file again (`amber image import FILE --name ANY`: the store takes back the chunks "
                + "it lacks), then run `amber store repair` again; or remove it with `amber image rm \(name)`"
        }
        if owner.hasPrefix("snapshot ") {
            let id = owner.split(separator: "/").last.map(String.init) ?? ""
            return "no intact copy of its data is left (it was never taken out for a rollback or clone); "
                + "remove it with `amber snapshot rm \(id)` and restore from another snapshot"
        }
        return "run `amber store recover`, then `amber store repair` again"
    }

    /// Ingests each cached file of `snapshot` whose manifest root is needed; commits only an exact match.
    private func restoreFromCache(_ snapshot: SnapshotRecord) throws -> [RepairReport.Restored] {
        let directory = MaterializedSnapshot.directory(home, id: snapshot.id)
        let files: [(name: String, root: [UInt8]?)] = [
            ("state", snapshot.stateManifest), ("memory", snapshot.memoryManifest),
            ("disk0", snapshot.diskManifest),
        ]
        var restored: [RepairReport.Restored] = []
        for (name, rootBytes) in files {
            guard let rootBytes, let root = ChunkDigest(bytes: rootBytes) else { continue }
            let path = directory.appendingPathComponent(name).path
            guard FileManager.default.fileExists(atPath: path) else { continue }
            for chunkSize in candidateChunkSizes(of: root) {
                guard let newChunks = try ingestIfItGives(root, from: path, chunkSize: chunkSize) else { continue }
                if newChunks > 0 { restored.append(.init(owner: Self.owner(of: snapshot), file: path, newChunks: newChunks)) }
                break
            }
        }
        return restored
    }

    /// The root's own chunk size when the root is readable; else the sizes Amber writes manifests with.
    private func candidateChunkSizes(of root: ChunkDigest) -> [Int] {
        if let bytes = try? reader.chunk(root), let decoded = try? Manifest.decodeRoot(bytes, digest: root) {
            return [decoded.chunkSize]
        }
        return Array(Set([store.chunkSize, ChunkStore.defaultChunkSize])).sorted()
    }

    /// The number of chunks stored again, or nil (nothing kept) when the file does not give `root`.
    private func ingestIfItGives(_ root: ChunkDigest, from path: String, chunkSize: Int) throws -> Int? {
        let source = try IngestFile(path: path)
        do {
            return try write { writer in
                let result = try writer.ingest(source, chunkSize: chunkSize)
                // Nothing kept: the write rolls back.
                guard result.manifest == root else { throw FileDoesNotGiveRoot() }
                return result.newChunks
            } commit: { _, newChunks in
                newChunks
            }
        } catch is FileDoesNotGiveRoot {
            return nil
        }
    }
}

/// A file offered to repair a chunk that turned out to hold other data: its write is rolled back.
private struct FileDoesNotGiveRoot: Error {}
