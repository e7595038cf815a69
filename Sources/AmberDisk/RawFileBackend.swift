import AmberSystem
import Glibc

/// A raw disk image (regular file or block device) read and written in place.
public final class RawFileBackend: BlockBackend, Sendable {
    public let size: UInt64
    public let readOnly: Bool
    public let name: String
    private let image: FileDescriptor

    /// Opens the image at `path`.
    public convenience init(path: String, readOnly: Bool) throws {
        let image: FileDescriptor
        do {
            image = try FileDescriptor.open(path, readOnly ? O_RDONLY : O_RDWR)
        } catch let error as SystemError {
            throw DiskError(
                "disk image \(path) cannot be opened \(readOnly ? "read-only" : "read-write") (\(String(cString: strerror(error.errno)))): check the path and its permissions"
            )
        }
        try self.init(image: image, name: path, readOnly: readOnly)
    }

    /// Serves an already open image; `name` is how errors refer to it.
    public init(image: FileDescriptor, name: String, readOnly: Bool) throws {
        self.size = try DiskFile.size(of: image, name: name)
        self.image = image
        self.name = name
        self.readOnly = readOnly
    }

    public func read(into buffers: [UnsafeMutableRawBufferPointer], at offset: UInt64) throws {
        try checkRange(offset: offset, count: buffers.totalByteCount, name: name)
        guard try VectoredIO.read(image, into: buffers, at: offset) else {
            throw DiskError("disk image \(name) ended before offset \(offset + UInt64(buffers.totalByteCount)): was it truncated?")
        }
    }

    public func write(from buffers: [UnsafeMutableRawBufferPointer], at offset: UInt64) throws {
        guard !readOnly else { throw DiskError("disk image \(name) is read-only") }
        try checkRange(offset: offset, count: buffers.totalByteCount, name: name)
        guard try VectoredIO.write(image, from: buffers, at: offset) else {
            throw DiskError("disk image \(name) took no bytes at offset \(offset)")
        }
    }

    public func flush() throws {
        try DiskFile.syncData(image, name: name)
    }
}
