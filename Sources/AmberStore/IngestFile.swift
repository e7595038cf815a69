import AmberSystem
import Glibc

/// An image file opened for ingest: a regular file or a block device. Opened before the store lease
/// is taken, so that a source that can never be read to its end (a FIFO, a socket, a character
/// device, a directory) is refused at once instead of hanging a writer that holds the lease.
public struct IngestFile: Sendable {
    public let path: String
    let descriptor: FileDescriptor
    public let length: UInt64

    public init(path: String) throws {
        // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer to appear.
        let descriptor: FileDescriptor
        do {
            descriptor = try FileDescriptor.open(path, O_RDONLY | O_NONBLOCK)
        } catch let error as SystemError where error.errno == ENOENT {
            throw StoreError.io(operation: "open \(path)", cause: FailureCause(reason: "no such file; check the path", errno: ENOENT))
        }
        var info = stat()
        try retryingInterrupts("fstat \(path)") { fstat(descriptor.rawValue, &info) }
        switch info.st_mode & S_IFMT {
        case S_IFREG:
            length = UInt64(info.st_size)
        case S_IFBLK:
            // A block device's stat size is 0; its end is its size.
            length = try UInt64(retryingInterrupts("seek to the end of \(path)") { lseek(descriptor.rawValue, 0, SEEK_END) })
        case let kind:
            throw StoreError.unsupportedSource(path: path, kind: Self.name(ofKind: kind))
        }
        self.path = path
        self.descriptor = descriptor
    }

    /// lseek(2) whences Glibc's Swift module does not export (they need _GNU_SOURCE).
    private static let seekData: Int32 = 3, seekHole: Int32 = 4

    /// Per chunk of `chunkSize`, whether any of it holds data (SEEK_DATA/SEEK_HOLE): chunks that lie wholly in
    /// holes read as zeros and need not be read at all, so importing a sparse file costs its data, not its
    /// size. Nil where the file system cannot say (the file is then read whole, as before).
    func chunksHoldingData(chunkSize: Int) -> [Bool]? {
        let count = Manifest.chunkCount(length: length, chunkSize: chunkSize)
        var holding = [Bool](repeating: false, count: count)
        var position: off_t = 0
        let end = off_t(clamping: length)
        while position < end {
            let dataStart = lseek(descriptor.rawValue, position, Self.seekData)
            if dataStart < 0 { return errno == ENXIO ? holding : nil }  // ENXIO: no data after `position`
            let holeStart = lseek(descriptor.rawValue, dataStart, Self.seekHole)
            guard holeStart > dataStart else { return nil }
            let dataEnd = min(holeStart, end)
            guard dataStart < dataEnd else { break }
            for chunk in Int(dataStart / off_t(chunkSize))...Int((dataEnd - 1) / off_t(chunkSize)) where chunk < count {
                holding[chunk] = true
            }
            position = dataEnd
        }
        return holding
    }

    private static func name(ofKind kind: mode_t) -> String {
        switch kind {
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO"
        case S_IFSOCK: return "a socket"
        case S_IFCHR: return "a character device"
        default: return "not a regular file"
        }
    }
}
