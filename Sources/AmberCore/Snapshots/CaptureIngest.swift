import AmberCatalog
import AmberModel
import AmberStore
import AmberControl
import AmberSystem
import AmberDisk
import Glibc

/// Reads a paused VM's memory and disks into the store, as `snapshotBegin` describes them.
struct CaptureIngest {
    let context: StoreContext
    let writer: StoreWriter
    let vm: String

    /// Guest memory as the process amber-vmm forked to hold it still sees it, read from that
    /// process while the guest runs on. A chunk is neither read nor hashed when amber-vmm saw none of
    /// its pages written since a recorded snapshot (the baseline: it keeps that snapshot's digest), or
    /// when the holder's pagemap shows all its pages as they came: zero (a booted VM) or the backing
    /// snapshot's (a restored VM). The parent snapshot's memory is the delta base: a chunk the guest
    /// rewrote a few pages of is stored as those pages.
    func memory(_ held: HeldMemory, of capture: SnapshotCapture) throws -> IngestResult {
        let untouched = held.untouched.flatMap {
            HeldMemoryReader.untouchedPages(pagemapPath: $0.pagemapPath, address: held.address, length: capture.memoryBytes)
        }
        let backing = held.untouched?.backing
        let referenced = ReferencedMemories(ingest: self, bytes: capture.memoryBytes)
        let known = try knownChunks(untouched: untouched, backing: backing, held.changes, length: capture.memoryBytes, referenced)
        let pagesPerChunk = context.store.chunkSize / HeldMemoryReader.pageSize
        let pages = known.map { known in
            (0..<(Int(capture.memoryBytes) / HeldMemoryReader.pageSize)).map { page -> HeldMemoryReader.Page in
                if known[page / pagesPerChunk] != nil { return .skip }
                return untouched?[page] == true && backing == nil ? .zero : .read
            }
        }
        let reader: HeldMemoryReader
        do {
            reader = try HeldMemoryReader(memoryPath: held.path, address: held.address, pages: pages)
        } catch let error as SystemError {
            throw SnapshotError.memoryUnreadable(vm: vm, reason: error.description)
        }
        let base = capture.parent.flatMap(referenced.manifest)
        return try writer.ingest(length: capture.memoryBytes, deltaBase: base, known: known.map { known in { @Sendable in known[$0] } }) {
            start, buffer in
            guard try reader.read(at: start, into: buffer) else {
                throw SnapshotError.memoryUnreadable(vm: vm, reason: "short read at guest offset \(start)")
            }
        }
    }

    /// Per memory chunk, its digest when the store holds it already and the guest did not change it:
    /// every page as it came (zero, or the `backing` snapshot's chunk), or none written since the
    /// baseline snapshot of `changes` (its chunk). Digests are looked up under this writer's lease, which keeps gc
    /// away until the commit. Nil when neither source is there.
    private func knownChunks(
        untouched: [Bool]?, backing backingID: String?, _ changes: MemoryChanges?, length: UInt64,
        _ referenced: ReferencedMemories
    ) throws -> [ChunkDigest?]? {
        let chunkSize = context.store.chunkSize
        let pagesPerChunk = chunkSize / HeldMemoryReader.pageSize
        let count = Manifest.chunkCount(length: length, chunkSize: chunkSize)
        let backing = try backingID.flatMap(referenced.storedDigests)
        let baseline = try changes.flatMap { try referenced.storedDigests($0.baseline) }
        var changed = [Bool](repeating: false, count: count)
        for run in changes?.pages ?? [] where run.count > 0 {
            let chunks = (run.first / pagesPerChunk)...((run.first + run.count - 1) / pagesPerChunk)
            for chunk in chunks where chunk >= 0 && chunk < count { changed[chunk] = true }
        }
        guard untouched != nil || baseline != nil else { return nil }
        return (0..<count).map { chunk in
            if let untouched,
                untouched[(chunk * pagesPerChunk)..<min(untouched.count, (chunk + 1) * pagesPerChunk)].allSatisfy({ $0 })
            {
                if backingID == nil { return .zero }
                if let digest = backing?[chunk] { return digest }
            }
            return changed[chunk] ? nil : baseline?[chunk]
        }
    }

    /// The memories of the snapshots one capture refers to (parent, baseline, backing: often one and the
    /// same snapshot), each manifest read and each stored-digest lookup made once.
    private final class ReferencedMemories {
        private let ingest: CaptureIngest
        private let bytes: UInt64
        private var manifests: [String: Manifest?] = [:]
        private var stored: [String: [ChunkDigest?]?] = [:]

        init(ingest: CaptureIngest, bytes: UInt64) {
            self.ingest = ingest
            self.bytes = bytes
        }

        /// Snapshot `id`'s memory manifest; nil when it is gone or of another shape.
        func manifest(_ id: String) -> Manifest? {
            if let known = manifests[id] { return known }
            let manifest = ingest.memoryManifest(ofSnapshot: id, bytes: bytes)
            manifests[id] = manifest
            return manifest
        }

        /// Snapshot `id`'s memory digests, each only if the store holds it (zero chunks always).
        func storedDigests(_ id: String) throws -> [ChunkDigest?]? {
            if let known = stored[id] { return known }
            let digests = try manifest(id).map { manifest in
                let held = try ingest.context.index.storedDigests(among: Array(Set(manifest.digests.filter { !$0.isZero })))
                return manifest.digests.map { $0.isZero || held.contains($0) ? $0 : nil }
            }
            stored[id] = digests
            return digests
        }
    }

    /// A disk's snapshot in two parts: what the guest can change, read while it is paused, and what it
    /// cannot (the base image under an overlay, which is never written), read by `finish` after it runs on.
    struct PendingDisk {
        let finish: () throws -> (root: ChunkDigest, logicalBytes: UInt64)
    }

    /// Reads what the paused guest could change. Chunks unchanged since the baseline snapshot keep that
    /// snapshot's digests and are not read at all. Without a usable baseline (a VM's first snapshot) the
    /// overlay's chunks are read now and the base's other chunks later: a first snapshot no longer holds
    /// the guest paused while it reads the whole disk. A disk without overlay is read whole, paused.
    func diskWhilePaused(_ disk: DiskCapture) throws -> PendingDisk {
        let baseline = try baselineManifest(disk)
        guard let overlayPath = disk.overlayPath else {
            if let baseline, disk.changedChunks.isEmpty { return PendingDisk { (baseline.root, baseline.manifest.logicalLength) } }
            let result = try writer.ingest(file: disk.basePath)
            return PendingDisk { (result.manifest, result.logicalBytes) }
        }
        let overlay: OverlayDisk
        do {
            overlay = try OverlayDisk(basePath: disk.basePath, overlayPath: overlayPath, readOnly: true)
        } catch let error as DiskError {
            throw SnapshotError.diskUnreadable(vm: vm, reason: error.description)
        }
        guard let baseline, baseline.manifest.chunkSize == overlay.chunkSize,
            baseline.manifest.logicalLength == overlay.size
        else {
            return try overlayNowBaseLater(overlay)
        }
        var digests = baseline.manifest.digests
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: overlay.chunkSize, alignment: 4096)
        defer { buffer.deallocate() }
        for index in disk.changedChunks where index >= 0 && index < digests.count {
            let length = try overlay.readChunk(index, into: buffer)
            digests[index] = try writer.put(UnsafeRawBufferPointer(rebasing: buffer[0..<length]), deltaBase: digests[index])
        }
        let manifest = Manifest(chunkSize: overlay.chunkSize, logicalLength: overlay.size, digests: digests)
        let root = try writer.put(manifest)
        return PendingDisk { (root, overlay.size) }
    }

    /// The overlay's chunks now; the rest, straight from the base file (in parallel), when finished.
    private func overlayNowBaseLater(_ overlay: OverlayDisk) throws -> PendingDisk {
        var inOverlay = [ChunkDigest?](repeating: nil, count: overlay.chunkCount)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: overlay.chunkSize, alignment: 4096)
        defer { buffer.deallocate() }
        for index in overlay.overlayChunks() {
            let length = try overlay.readChunk(index, into: buffer)
            inOverlay[index] = try writer.put(UnsafeRawBufferPointer(rebasing: buffer[0..<length]))
        }
        let known = inOverlay
        return PendingDisk { [writer, vm] in
            let base: FileDescriptor
            do {
                base = try FileDescriptor.open(overlay.basePath, O_RDONLY)
            } catch {
                throw SnapshotError.diskUnreadable(vm: vm, reason: "base \(overlay.basePath): \(error)")
            }
            let result = try writer.ingest(length: overlay.size, chunkSize: overlay.chunkSize, known: { known[$0] }) { start, window in
                var done = 0
                while done < window.count {
                    let count = try base.read(into: UnsafeMutableRawBufferPointer(rebasing: window[done...]), at: start + UInt64(done))
                    guard count > 0 else {
                        throw SnapshotError.diskUnreadable(
                            vm: vm, reason: "base \(overlay.basePath) ended early at offset \(start + UInt64(done)): was it truncated?")
                    }
                    done += count
                }
            }
            return (result.manifest, result.logicalBytes)
        }
    }

    /// The memory manifest of snapshot `id` if it is still recorded with memory of `bytes` bytes in
    /// this store's chunk size; nil otherwise (or if it cannot be read).
    fileprivate func memoryManifest(ofSnapshot id: String, bytes: UInt64) -> Manifest? {
        guard let recorded = try? context.catalog.read({ try $0.snapshot(id: id) })?.memoryManifest,
            let root = ChunkDigest(bytes: recorded),
            let manifest = try? context.reader.manifest(root),
            manifest.logicalLength == bytes, manifest.chunkSize == context.store.chunkSize
        else { return nil }
        return manifest
    }

    /// The baseline snapshot's disk manifest, if it is still recorded (a removed snapshot's chunks
    /// may be gone: then the disk is read whole).
    private func baselineManifest(_ disk: DiskCapture) throws -> (root: ChunkDigest, manifest: Manifest)? {
        guard let id = disk.baseline,
            let bytes = try context.catalog.read({ try $0.snapshot(id: id) })?.diskManifest,
            let root = ChunkDigest(bytes: bytes)
        else { return nil }
        return (root, try context.reader.manifest(root))
    }
}
