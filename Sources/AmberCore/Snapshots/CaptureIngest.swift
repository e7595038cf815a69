import AmberCatalog
import AmberStore
import AmberSystem
import AmberVMM
import AmberVirtio
import Glibc

/// Reads a paused VM's memory and disks into the store, as `snapshotBegin` describes them.
struct CaptureIngest {
    let context: StoreContext
    let writer: StoreWriter
    let vm: String

    /// Guest memory as the process amber-vmm forked to hold it still sees it, read from that
    /// process while the guest runs on (pages the guest never touched are not read at all). The parent snapshot's memory is the delta base:
    /// a chunk the guest rewrote a few pages of is stored as those pages.
    func memory(_ capture: SnapshotCapture) throws -> IngestResult {
        let held: HeldMemoryReader
        do {
            held = try HeldMemoryReader(memoryPath: capture.memoryPath, address: capture.memoryOffset ?? 0,
                                        zeroPagesMap: capture.zeroPagesMap)
        } catch let error as SystemError {
            throw SnapshotError.memoryUnreadable(vm: vm, reason: error.description)
        }
        let base = parentMemoryManifest(capture)
        return try writer.ingest(length: capture.memoryBytes, deltaBase: base) { start, buffer in
            guard try held.read(at: start, into: buffer) else {
                throw SnapshotError.memoryUnreadable(vm: vm, reason: "short read at guest offset \(start)")
            }
        }
    }

    /// The disk's manifest root. Chunks unchanged since the baseline snapshot keep that snapshot's
    /// digests and are not read at all; without a usable baseline the whole disk is read.
    func disk(_ disk: DiskCapture) throws -> (root: ChunkDigest, logicalBytes: UInt64) {
        let baseline = try baselineManifest(disk)
        guard let overlayPath = disk.overlayPath else {
            if let baseline, disk.changedChunks.isEmpty { return (baseline.root, baseline.manifest.logicalLength) }
            let result = try writer.ingest(file: disk.basePath)
            return (result.manifest, result.logicalBytes)
        }
        let overlay: OverlayDisk
        do {
            overlay = try OverlayDisk(basePath: disk.basePath, overlayPath: overlayPath, readOnly: true)
        } catch let error as VirtioError {
            throw SnapshotError.diskUnreadable(vm: vm, reason: error.description)
        }
        guard let baseline, baseline.manifest.chunkSize == overlay.chunkSize,
              baseline.manifest.logicalLength == overlay.size else {
            let result = try writer.ingest(length: overlay.size, chunkSize: overlay.chunkSize) { start, buffer in
                try overlay.read(into: [buffer], at: start)
            }
            return (result.manifest, result.logicalBytes)
        }
        var digests = baseline.manifest.digests
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: overlay.chunkSize, alignment: 4096)
        defer { buffer.deallocate() }
        for index in disk.changedChunks where index >= 0 && index < digests.count {
            let length = try overlay.readChunk(index, into: buffer)
            digests[index] = try writer.put(UnsafeRawBufferPointer(rebasing: buffer[0..<length]), deltaBase: digests[index])
        }
        let manifest = Manifest(chunkSize: overlay.chunkSize, logicalLength: overlay.size, digests: digests)
        return (try writer.put(manifest), overlay.size)
    }

    /// The memory manifest of the snapshot this VM's state descends from, if that snapshot is still
    /// recorded with memory of the same size. Without one (or if it cannot be read) chunks are stored whole.
    private func parentMemoryManifest(_ capture: SnapshotCapture) -> Manifest? {
        guard let id = capture.parent,
              let bytes = try? context.catalog.read({ try $0.snapshot(id: id) })?.memoryManifest,
              let root = ChunkDigest(bytes: bytes),
              let manifest = try? context.reader.manifest(root),
              manifest.logicalLength == capture.memoryBytes, manifest.chunkSize == context.store.chunkSize else { return nil }
        return manifest
    }

    /// The baseline snapshot's disk manifest, if it is still recorded (a removed snapshot's chunks
    /// may be gone: then the disk is read whole).
    private func baselineManifest(_ disk: DiskCapture) throws -> (root: ChunkDigest, manifest: Manifest)? {
        guard let id = disk.baseline,
              let bytes = try context.catalog.read({ try $0.snapshot(id: id) })?.diskManifest,
              let root = ChunkDigest(bytes: bytes) else { return nil }
        return (root, try context.reader.manifest(root))
    }
}
