import Glibc

/// An owned file descriptor, closed when the last reference goes away.
public final class FileDescriptor: Sendable {
    public let rawValue: Int32

    public init(owning rawValue: Int32) {
        self.rawValue = rawValue
    }

    deinit {
        close(rawValue)
    }

    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o644) throws -> FileDescriptor {
        let fd = try retryingInterrupts("open \(path)") { Glibc.open(path, flags | O_CLOEXEC, mode) }
        return FileDescriptor(owning: fd)
    }

    /// Reads exactly `count` bytes at `offset` unless the file ends first; returns the bytes read.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: UInt64) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = try retryingInterrupts("pread") {
                pread(rawValue, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Writes all of `buffer` at `offset`.
    public func write(_ buffer: UnsafeRawBufferPointer, at offset: UInt64) throws {
        var done = 0
        while done < buffer.count {
            let n = try retryingInterrupts("pwrite") {
                pwrite(rawValue, buffer.baseAddress! + done, buffer.count - done, off_t(offset) + off_t(done))
            }
            done += n
        }
    }

    public func size() throws -> UInt64 {
        var info = stat()
        try retryingInterrupts("fstat") { fstat(rawValue, &info) }
        return UInt64(info.st_size)
    }

    public func truncate(to size: UInt64) throws {
        try retryingInterrupts("ftruncate") { ftruncate(rawValue, off_t(size)) }
    }

    public func sync() throws {
        try retryingInterrupts("fsync") { fsync(rawValue) }
    }

    /// Makes a rename or creation of `path` durable: fsync of the directory that holds it.
    public static func syncDirectory(containing path: String) throws {
        let slash = path.lastIndex(of: "/")
        let parent = slash.map { $0 == path.startIndex ? "/" : String(path[..<$0]) } ?? "."
        try open(parent, O_RDONLY | O_DIRECTORY).sync()
    }
}
