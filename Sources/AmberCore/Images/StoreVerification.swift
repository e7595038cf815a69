import AmberCatalog
import AmberModel
import AmberStore

/// What `amber store verify` found.
public struct VerificationReport: Sendable, Codable {
    public struct BadChunk: Sendable, Codable, Equatable {
        public var digest: String
        public var pack: String?
        public var offset: UInt64?
        public var problem: String
        /// Images and snapshots that cannot be restored because of this chunk.
        public var dependents: [String]
    }

    public var checkedChunks: Int
    public var checkedBytes: UInt64
    public var badChunks: [BadChunk]
    /// VMs whose packed planning summary disagreed with their snapshot rows; verify rebuilt them from the rows
    /// (the rows are the truth; a disagreement means a bug, not lost data).
    public var rebuiltPlanningSummaries: [String]
    /// Bad chunks taken out of the index (`ChunkQuarantine`): the next import or snapshot of the same
    /// content stores it again, and what needs it is whole again.
    public var quarantined: [String]
    /// Record files read (tombstones and damaged files included).
    public var checkedRecords: Int
    /// Per record: manifests the store cannot give back whole, unreadable record files, and records and catalog
    /// rows that disagree; one line each.
    public var recordProblems: [RecordProblem]

    public var isClean: Bool { badChunks.isEmpty && recordProblems.isEmpty }
    /// Every image or snapshot some bad chunk breaks.
    public var damaged: [String] { Array(Set(badChunks.flatMap(\.dependents))).sorted() }
}

extension StoreContext {
    /// Decodes and re-hashes every chunk in the catalog (rebuilding deltas from their bases), then names
    /// what depends on each bad one (including manifests that are themselves unreadable or reference
    /// chunks the catalog lacks). A snapshot depends on the bases of its delta chunks too, so a bad
    /// base names every snapshot whose chunks are rebuilt from it. Last, compares every VM's planning
    /// summary with its snapshot rows and rebuilds those that differ.
    /// Every live record in the store is checked against the chunks its manifests name, and against its catalog
    /// row (`RecordChunkCheck`, `RecordsAndRows`).
    /// Stored chunks that fail the check are quarantined (`quarantine(_:)`).
    public func verify(progress: ProgressReport? = nil) throws -> VerificationReport {
        var (report, defects) = try scan(progress: progress)
        if !defects.isEmpty {
            report.quarantined = try quarantine(defects).map(\.digest.hex).sorted()
        }
        return report
    }

    /// Takes chunks that failed a check out of the index, under the exclusive lease (no writer is between
    /// finding a chunk in the index and referencing it), after checking each again where the index still
    /// puts it: the list of places first, durably, then the rows. Returns the chunks taken out.
    func quarantine(_ defects: [ChunkDefect]) throws -> [StoredChunk] {
        let lease = try store.lease(.exclusive)
        defer { withExtendedLifetime(lease) {} }
        let suspects = Dictionary(defects.map { ($0.digest, $0.location) }) { first, _ in first }
        let rows = try catalog.read { try $0.allChunks() }.map(StoredChunk.init(checking:))
        let current = rows.filter { suspects[$0.digest] == $0.location }
        let confirmed = Set(reader.verify(current).map(\.digest))
        let taken = current.filter { confirmed.contains($0.digest) }
        try ChunkQuarantine(store: store).add(taken)
        try catalog.write { try $0.deleteChunks(taken.map(\.digest.bytes)) }
        return taken
    }

    private func scan(progress: ProgressReport?) throws -> (VerificationReport, [ChunkDefect]) {
        let lease = try store.lease(.shared)
        defer { withExtendedLifetime(lease) {} }
        let directory = store.records
        // One moment for the index, the rows and the records: a write transaction, so that no writer is between a
        // record and its row (see `RecordsAndRows`); chunks indexed then stay (gc and quarantine need the lease
        // exclusively).
        let (rows, roots, recorded) = try catalog.write { db in
            (try db.allChunks(), try db.manifestRoots(), try RecordsAndRows(directory: directory, db: db))
        }
        let chunks = try rows.map(StoredChunk.init(checking:))
        let reader = self.reader
        let defects = reader.verify(chunks, progress: progress)
        var bad: [ChunkDigest: VerificationReport.BadChunk] = [:]
        for defect in defects {
            bad[defect.digest] = .init(
                digest: defect.digest.hex, pack: defect.location.pack, offset: defect.location.offset,
                problem: defect.reason, dependents: [])
        }
        let known = Set(chunks.map(\.digest))
        var recordCheck = RecordChunkCheck(reader: reader, indexed: known, damaged: Set(defects.map(\.digest)), bases: DeltaBases(chunks))
        for root in roots {
            let referenced = recordCheck.referenced(by: root.digest)
            recordCheck.note(root.digest, referenced)
            guard case .success(let needed) = referenced else {
                if case .failure(let error) = referenced, bad[root.digest] == nil {
                    bad[root.digest] = .init(
                        digest: root.digest.hex, pack: nil, offset: nil, problem: "manifest unreadable: \(error)", dependents: [])
                }
                bad[root.digest]!.dependents.append(root.owner)
                continue
            }
            for digest in needed {
                if bad[digest] != nil {
                    bad[digest]!.dependents.append(root.owner)
                } else if !known.contains(digest) {
                    bad[digest] = .init(
                        digest: digest.hex, pack: nil, offset: nil, problem: "missing from the store", dependents: [root.owner])
                }
            }
        }
        let total = chunks.reduce(UInt64(0)) { $0 + UInt64($1.location.rawLength) }
        let sorted = bad.values.map { chunk -> VerificationReport.BadChunk in
            var chunk = chunk
            chunk.dependents = Array(Set(chunk.dependents)).sorted()
            return chunk
        }.sorted { $0.digest < $1.digest }
        let recordProblems = recordCheck.problems(recorded.records, directory: directory) + recorded.disagreements()
        let rebuilt = try catalog.write { try $0.repairPlanningSummaries() }
        return (
            VerificationReport(
                checkedChunks: chunks.count, checkedBytes: total, badChunks: sorted,
                rebuiltPlanningSummaries: rebuilt, quarantined: [], checkedRecords: recorded.recordCount,
                recordProblems: recordProblems), defects
        )
    }
}
