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
            throw StoreError.io(operation: "open \(path)", reason: "no such file; check the path")
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
