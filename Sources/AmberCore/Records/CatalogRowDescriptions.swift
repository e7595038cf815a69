import AmberCatalog
import AmberModel
import AmberStore
import Foundation

// Catalog rows and the store's record descriptions hold the same values; these convert one into the other.
// A row that cannot be described (a manifest column that is not a digest, a name no record file can have) gives
// nil: it keeps its row, and gc still marks from it.

extension VMDescription {
    init?(row: VMRecord) {
        self.init(name: row.name, config: row.config, created: row.created.timeIntervalSince1970)
        if problem() != nil { return nil }
    }

    var row: VMRecord { VMRecord(name: name, config: config, created: Date(timeIntervalSince1970: created)) }
}

extension ImageDescription {
    init?(row: ImageRecord) {
        guard let manifest = ChunkDigest(bytes: row.manifest) else { return nil }
        self.init(
            name: row.name, manifest: manifest.hex, logicalBytes: row.logicalBytes, storedBytes: row.storedBytes,
            chunkSize: row.chunkSize, created: row.created.timeIntervalSince1970)
        if problem() != nil { return nil }
    }

    var row: ImageRecord {
        ImageRecord(
            name: name, manifest: ChunkDigest(hex: manifest)!.bytes, logicalBytes: logicalBytes, storedBytes: storedBytes,
            chunkSize: chunkSize, created: Date(timeIntervalSince1970: created))
    }
}

extension SnapshotDescription {
    init?(row: SnapshotRecord) {
        func hex(_ blob: [UInt8]?) -> String?? {
            guard let blob else { return .some(nil) }
            return ChunkDigest(bytes: blob).map { .some($0.hex) }
        }
        guard let memory = hex(row.memoryManifest), let disk = hex(row.diskManifest), let state = hex(row.stateManifest) else {
            return nil
        }
        self.init(
            id: row.id, vm: row.vm, parent: row.parent, created: row.created.timeIntervalSince1970, label: row.label,
            kind: row.kind, memoryManifest: memory, diskManifest: disk, stateManifest: state, logicalBytes: row.logicalBytes,
            storedBytes: row.storedBytes, pauseMicroseconds: row.pauseMicroseconds, protected: row.protected, policy: row.policy)
        if problem() != nil { return nil }
    }

    var row: SnapshotRecord {
        SnapshotRecord(
            id: id, vm: vm, parent: parent, created: Date(timeIntervalSince1970: created), label: label, kind: kind,
            memoryManifest: memoryManifest.flatMap { ChunkDigest(hex: $0)?.bytes },
            diskManifest: diskManifest.flatMap { ChunkDigest(hex: $0)?.bytes },
            stateManifest: stateManifest.flatMap { ChunkDigest(hex: $0)?.bytes },
            logicalBytes: logicalBytes, storedBytes: storedBytes, pauseMicroseconds: pauseMicroseconds,
            protected: protected, policy: policy)
    }
}
