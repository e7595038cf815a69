import AmberSystem
import Glibc

/// Where materialize writes: a descriptor through the page cache, and optionally a second one on the
/// same file opened with O_DIRECT.
///
/// Why O_DIRECT: writing through the page cache makes the kernel take a fresh page for every 4 KiB
/// written, and on a virtual machine whose host reclaims freed guest memory (free page reporting, as
/// on this project's build machines) touching such a page first costs a host fault; measured, that made
/// a 1 GiB `cp` take 0.4 s to 5.7 s depending on how much memory the host had taken back. Direct writes
/// go from the workers' reused buffers to the disk, costing the disk's speed and no memory.
struct OutputFile {
    let buffered: FileDescriptor
    let direct: FileDescriptor?

    /// Glibc's Swift module does not export O_DIRECT (it needs _GNU_SOURCE); its Linux value.
    #if arch(x86_64)
    static let directFlag: Int32 = 0o40000
    #else
    static let directFlag: Int32 = 0o200000
    #endif

    /// Buffer, offset and length alignment direct writes need (the largest logical block size in use).
    static let directAlignment = 4096

    /// Allocates the blocks of every run of non-zero chunks, never the holes, before the direct writes:
    /// ext4 lets concurrent direct writes into allocated blocks share the inode lock, where each write
    /// into a hole takes it alone and holds it until the disk is done. Best effort: where allocating
    /// ahead fails the writes still allocate as they come.
    func allocateDataRuns(of manifest: Manifest) {
        var runStart: Int?
        for index in 0...manifest.digests.count {
            let isData = index < manifest.digests.count && !manifest.digests[index].isZero
            if isData, runStart == nil { runStart = index }
            guard !isData, let first = runStart else { continue }
            runStart = nil
            let offset = UInt64(first) * UInt64(manifest.chunkSize)
            let end = min(manifest.logicalLength, UInt64(index) * UInt64(manifest.chunkSize))
            guard posix_fallocate(buffered.rawValue, off_t(offset), off_t(end - offset)) == 0 else { return }
        }
    }

    /// Writes `bytes` at `offset` (a multiple of `directAlignment`): the aligned part directly when
    /// possible, the rest (a file's odd-sized tail) through the page cache. A file system that turns
    /// a direct write down (EINVAL) gets the bytes through the page cache instead.
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        let aligned = bytes.count & ~(Self.directAlignment - 1)
        guard let direct, aligned > 0, offset % UInt64(Self.directAlignment) == 0,
            Int(bitPattern: bytes.baseAddress) % Self.directAlignment == 0
        else {
            return try buffered.write(bytes, at: offset)
        }
        do {
            try direct.write(UnsafeRawBufferPointer(rebasing: bytes[0..<aligned]), at: offset)
        } catch let error as SystemError where error.errno == EINVAL {
            try buffered.write(UnsafeRawBufferPointer(rebasing: bytes[0..<aligned]), at: offset)
        }
        if aligned < bytes.count {
            try buffered.write(UnsafeRawBufferPointer(rebasing: bytes[aligned...]), at: offset + UInt64(aligned))
        }
    }
}
