import AmberModel
import AmberStore
import Foundation

/// Every record in a store, read once: what `recover` rebuilds the catalog from and what gc marks from.
struct StoreRecordSet {
    var vms: [StoredRecord<VMDescription>]
    var images: [StoredRecord<ImageDescription>]
    var snapshots: [StoredRecord<SnapshotDescription>]
    /// Files that could not be read back; each costs only itself.
    var damaged: [DamagedRecord]

    init(directory: RecordDirectory) throws {
        let vms = try directory.loadAll(VMDescription.self)
        let images = try directory.loadAll(ImageDescription.self)
        let snapshots = try directory.loadAll(SnapshotDescription.self)
        self.vms = vms.records
        self.images = images.records
        self.snapshots = snapshots.records
        damaged = vms.damaged + images.damaged + snapshots.damaged
    }

    var liveImages: [ImageDescription] { images.filter { !$0.isRemoved }.map(\.description) }
    var liveSnapshots: [SnapshotDescription] { snapshots.filter { !$0.isRemoved }.map(\.description) }

    /// The manifest roots live records name, each with the record that names it.
    var manifestRoots: [(owner: String, digest: ChunkDigest)] {
        liveImages.compactMap { image in
            ChunkDigest(hex: image.manifest).map { (RecordDirectory.name(.image, key: image.name), $0) }
        }
            + liveSnapshots.flatMap { snapshot in
                snapshot.manifests.compactMap { hex in
                    ChunkDigest(hex: hex).map { (RecordDirectory.name(.snapshot, key: snapshot.id), $0) }
                }
            }
    }
}
