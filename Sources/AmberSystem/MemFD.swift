import CSystem
import Glibc

/// An anonymous memory file. Guest memory lives in one so that other processes (the snapshot
/// manager) can map and read it without copying it through a socket.
public enum MemFD {
    public static func create(name: String, size: UInt64) throws -> FileDescriptor {
        let fd = try retryingInterrupts("memfd_create \(name)") {
            csystem_memfd_create(name, CSYSTEM_MFD_CLOEXEC)
        }
        let file = FileDescriptor(owning: fd)
        try file.truncate(to: size)
        return file
    }
}
