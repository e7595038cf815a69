import AmberCatalog
import AmberModel
import AmberStore

/// A manifest the catalog references, and who references it ("image base", "snapshot web-1/s3").
struct ManifestRoot {
    var digest: ChunkDigest
    var owner: String
}

extension SQLiteConnection {
    /// Every manifest reachable from the catalog: images, snapshots, and leases whose holder is alive.
    /// In a write transaction (gc), leases of dead processes are also deleted.
    func manifestRoots(deletingStaleLeases: Bool = false) throws -> [ManifestRoot] {
        var roots: [ManifestRoot] = []
        for image in try images() {
            if let digest = ChunkDigest(bytes: image.manifest) { roots.append(ManifestRoot(digest: digest, owner: "image \(image.name)")) }
        }
        for snapshot in try snapshots() {
            for manifest in snapshot.manifests {
                if let digest = ChunkDigest(bytes: manifest) {
                    roots.append(ManifestRoot(digest: digest, owner: "snapshot \(snapshot.vm)/\(snapshot.id)"))
                }
            }
        }
        for lease in try leases() {
            guard lease.holderIsAlive else {
                if deletingStaleLeases { try deleteLease(id: lease.id) }
                continue
            }
            if let manifest = lease.manifest, let digest = ChunkDigest(bytes: manifest) {
                roots.append(ManifestRoot(digest: digest, owner: "lease \(lease.id) (\(lease.purpose))"))
            }
        }
        return roots
    }
}
