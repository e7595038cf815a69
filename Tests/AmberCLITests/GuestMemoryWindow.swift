import AmberControl
import AmberSystem
import AmberVMM
import Glibc

/// A running amber-vmm's guest RAM, read and written from outside through `/proc/<pid>/mem` (as the
/// guest's own writes would change it), at the address its status reports.
struct GuestMemoryWindow {
    let file: FileDescriptor
    let address: UInt64
    let size: UInt64

    init(_ status: VMStatus) throws {
        file = try FileDescriptor.open("/proc/\(status.pid)/mem", O_RDWR)
        address = status.memoryAddress
        size = status.memoryBytes
    }

    func read(at offset: UInt64 = 0, count: Int? = nil) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count ?? Int(size - offset))
        let got = try bytes.withUnsafeMutableBytes { try file.read(into: $0, at: address + offset) }
        guard got == bytes.count else { throw SystemError("short read of guest memory", errno: EIO) }
        return bytes
    }

    func write(_ bytes: [UInt8], at offset: UInt64) throws {
        try bytes.withUnsafeBytes { try file.write($0, at: address + offset) }
    }
}
