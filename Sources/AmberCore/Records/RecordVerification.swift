import AmberCatalog
import AmberModel
import AmberStore

/// Something `amber store verify` found wrong with one record: a manifest it names that the store cannot give
/// back whole, a record file that cannot be read, or a record and a catalog row that disagree.
public struct RecordProblem: Sendable, Codable, Equatable {
    /// What the problem is about: "snapshot 0123456789abcdef (vm web)", "image base", "VM web", or
    /// "record file /…/store/records/snapshots/0123456789abcdef".
    public var record: String
    public var problem: String

    public var line: String { "\(record): \(problem)" }
}

/// The store's records and the catalog's rows as they were at one moment: read inside one catalog write
/// transaction (with the chunk index, see `StoreContext.verify`), so that no writer is between writing a record
/// and committing its row meanwhile (a concurrent import would otherwise show as a record without a row).
struct RecordsAndRows {
    var records: StoreRecordSet
    var vms: Set<String>
    var images: [String: ImageRecord]
    var snapshots: [String: SnapshotRecord]

    init(directory: RecordDirectory, db: SQLiteConnection) throws {
        records = try StoreRecordSet(directory: directory)
        vms = Set(try db.vms().map(\.name))
        images = Dictionary(try db.images().map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        snapshots = Dictionary(try db.snapshots().map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
    }

    var recordCount: Int { records.vms.count + records.images.count + records.snapshots.count + records.damaged.count }

    /// Rows without a record and records without a row (or with other manifests or protection): `recover` makes
    /// them agree, the store's record winning.
    func disagreements() -> [RecordProblem] {
        let recover = "; run `amber store recover`"
        let damagedKeys = Set(records.damaged.map { "\($0.type)/\($0.key)" })
        var problems: [RecordProblem] = []
        func compare(
            _ type: RecordType, what: (String) -> String, rows: Set<String>, live: [String], removed: [String],
            differs: (String) -> String?
        ) {
            let liveKeys = Set(live), removedKeys = Set(removed)
            for key in rows.sorted() where !damagedKeys.contains("\(type.rawValue)/\(key)") {
                if removedKeys.contains(key) {
                    problems.append(
                        RecordProblem(
                            record: what(key), problem: "the store records it as removed but the catalog still lists it" + recover))
                } else if !liveKeys.contains(key) {
                    problems.append(RecordProblem(record: what(key), problem: "in the catalog but the store has no record of it" + recover))
                } else if let difference = differs(key) {
                    problems.append(RecordProblem(record: what(key), problem: difference + recover))
                }
            }
            for key in liveKeys.subtracting(rows).sorted() {
                problems.append(RecordProblem(record: what(key), problem: "in the store's records but not in the catalog" + recover))
            }
        }
        compare(
            .vm, what: { "VM \($0)" }, rows: vms, live: records.vms.filter { !$0.isRemoved }.map(\.description.name),
            removed: records.vms.filter(\.isRemoved).map(\.description.name), differs: { _ in nil })
        let liveImages = Dictionary(records.liveImages.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        compare(
            .image, what: { "image \($0)" }, rows: Set(images.keys), live: Array(liveImages.keys),
            removed: records.images.filter(\.isRemoved).map(\.description.name),
            differs: { name in
                ChunkDigest(bytes: images[name]!.manifest)?.hex == liveImages[name]!.manifest
                    ? nil
                    : "its record and its catalog row name different manifests"
            })
        let liveSnapshots = Dictionary(records.liveSnapshots.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        let vmOf = { (id: String) in snapshots[id]?.vm ?? liveSnapshots[id]?.vm }
        compare(
            .snapshot, what: { id in "snapshot \(id)" + (vmOf(id).map { " (vm \($0))" } ?? "") }, rows: Set(snapshots.keys),
            live: Array(liveSnapshots.keys), removed: records.snapshots.filter(\.isRemoved).map(\.description.id),
            differs: { id in
                let row = snapshots[id]!, record = liveSnapshots[id]!
                if row.manifests.compactMap({ ChunkDigest(bytes: $0)?.hex }) != record.manifests {
                    return "its record and its catalog row name different manifests"
                }
                return row.protected == record.protected
                    ? nil
                    : "its record says \(record.protected ? "protected" : "not protected"), its catalog row \(row.protected ? "protected" : "not protected")"
            })
        return problems
    }
}

/// Checks every live record's manifests against the chunk index: present, decodable, and every chunk they list
/// (with the delta bases those are rebuilt from) indexed and not found damaged by verify's read of every chunk.
/// Tombstones name nothing that must exist.
struct RecordChunkCheck {
    let reader: ChunkReader
    let indexed: Set<ChunkDigest>
    let damaged: Set<ChunkDigest>
    let bases: DeltaBases
    /// What is wrong with each manifest read so far (nothing: whole): verify's walk of the catalog's manifests
    /// notes its own, so records naming the same ones (nearly all) are not read twice.
    private var verdicts: [ChunkDigest: [String]] = [:]

    init(reader: ChunkReader, indexed: Set<ChunkDigest>, damaged: Set<ChunkDigest>, bases: DeltaBases) {
        self.reader = reader
        self.indexed = indexed
        self.damaged = damaged
        self.bases = bases
    }

    /// The chunks a manifest needs (root, pieces, chunks, their delta bases), or why it cannot be read.
    func referenced(by root: ChunkDigest) -> Result<Set<ChunkDigest>, Error> {
        Result {
            let tree = try reader.manifestTree(root)
            return bases.closure(of: Set(tree.structure + tree.manifest.digests.filter { !$0.isZero }))
        }
    }

    mutating func note(_ root: ChunkDigest, _ referenced: Result<Set<ChunkDigest>, Error>) {
        guard verdicts[root] == nil else { return }
        verdicts[root] = verdict(root, referenced)
    }

    mutating func problems(_ records: StoreRecordSet, directory: RecordDirectory) -> [RecordProblem] {
        var problems: [RecordProblem] = []
        func check(_ record: String, _ manifests: [(kind: String, hex: String)]) {
            for (kind, hex) in manifests {
                guard let root = ChunkDigest(hex: hex) else { continue }
                note(root, referenced(by: root))
                problems += verdicts[root]!.map { RecordProblem(record: record, problem: "\(kind) \($0)") }
            }
        }
        for image in records.liveImages { check("image \(image.name)", [("manifest", image.manifest)]) }
        for snapshot in records.liveSnapshots {
            let manifests = [
                ("memory manifest", snapshot.memoryManifest), ("disk manifest", snapshot.diskManifest),
                ("state manifest", snapshot.stateManifest),
            ].compactMap { kind, hex in hex.map { (kind, $0) } }
            check("snapshot \(snapshot.id) (vm \(snapshot.vm))", manifests)
        }
        for file in records.damaged {
            let path = directory.path(RecordType(rawValue: file.type) ?? .snapshot, key: file.key)
            problems.append(RecordProblem(record: "record file \(path)", problem: file.reason))
        }
        return problems
    }

    /// Phrases following "memory manifest" (none: it is whole).
    private func verdict(_ root: ChunkDigest, _ referenced: Result<Set<ChunkDigest>, Error>) -> [String] {
        let short = String(root.hex.prefix(16))
        guard indexed.contains(root) else { return ["\(short) is missing from the store"] }
        guard !damaged.contains(root) else { return ["\(short) is damaged"] }
        switch referenced {
        case .failure(let error):
            return ["\(short) cannot be read (\(error))"]
        case .success(let chunks):
            let missing = chunks.filter { !indexed.contains($0) }.count
            let bad = chunks.filter { damaged.contains($0) }.count
            return (missing > 0 ? ["names \(missing) chunk(s) the store lacks"] : []) + (bad > 0 ? ["names \(bad) damaged chunk(s)"] : [])
        }
    }
}
