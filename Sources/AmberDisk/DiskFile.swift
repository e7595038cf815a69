import AmberSystem
import Glibc

/// File facts and system calls the disk backends share.
enum DiskFile {
    /// The size of a regular file or block device; a clear error for anything else.
    static func size(of file: FileDescriptor, name: String) throws -> UInt64 {
        var info = stat()
        guard fstat(file.rawValue, &info) == 0,
            (info.st_mode & S_IFMT) == S_IFREG || (info.st_mode & S_IFMT) == S_IFBLK
        else {
            throw DiskError("disk image \(name) is not a regular file or block device: pass a raw disk image")
        }
        let size = lseek(file.rawValue, 0, SEEK_END)
        guard size >= 0 else {
            throw DiskError("disk image \(name) has no size (\(String(cString: strerror(errno)))): pass a raw disk image")
        }
        return UInt64(size)
    }

    /// When a regular file's content last changed (zero for block devices, which have no useful mtime).
    static func modificationTime(of file: FileDescriptor) -> (seconds: Int64, nanoseconds: Int64) {
        var info = stat()
        guard fstat(file.rawValue, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return (0, 0) }
        return (Int64(info.st_mtim.tv_sec), Int64(info.st_mtim.tv_nsec))
    }

    static func syncData(_ file: FileDescriptor, name: String) throws {
        do {
            try retryingInterrupts("fdatasync \(name)") { fdatasync(file.rawValue) }
        } catch let error as SystemError {
            throw DiskError("disk \(name) cannot be made durable (\(String(cString: strerror(error.errno)))): check the host disk")
        }
    }

    /// Makes a rename or file creation inside `directory` durable.
    static func syncDirectory(_ directory: String) throws {
        let handle = try FileDescriptor.open(directory, O_RDONLY | O_DIRECTORY)
        try handle.sync()
    }

    static func describe(_ error: Error) -> String {
        if let error = error as? SystemError { return String(cString: strerror(error.errno)) }
        return "\(error)"
    }
}
