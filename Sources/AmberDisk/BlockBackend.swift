/// Where a block device's bytes live: a raw image, or a copy-on-write overlay over a read-only base.
/// Offsets and lengths are in bytes; the device checks that requests fall inside `size` and are whole
/// sectors before calling, and a backend refuses anything outside `size` itself as well.
public protocol BlockBackend: AnyObject, Sendable {
    /// The logical size of the disk in bytes.
    var size: UInt64 { get }
    /// True when writes are refused.
    var readOnly: Bool { get }

    /// Fills `buffers` (in order) with the disk's bytes from `offset`.
    func read(into buffers: [UnsafeMutableRawBufferPointer], at offset: UInt64) throws
    /// Writes `buffers` (in order) to the disk from `offset`. Durable only after `flush()`.
    func write(from buffers: [UnsafeMutableRawBufferPointer], at offset: UInt64) throws
    /// Makes every write that completed before the call durable (the guest's FLUSH).
    func flush() throws
}

extension BlockBackend {
    /// `count` bytes from `offset` (for tools and tests; the device reads into guest memory in place).
    public func read(at offset: UInt64, count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try read(into: [$0], at: offset) }
        return bytes
    }

    public func write(_ bytes: [UInt8], at offset: UInt64) throws {
        var bytes = bytes
        try bytes.withUnsafeMutableBytes { try write(from: [$0], at: offset) }
    }

    /// Throws unless `count` bytes from `offset` lie inside the disk.
    func checkRange(offset: UInt64, count: Int, name: String) throws {
        guard offset <= size, UInt64(count) <= size - offset else {
            throw DiskError("disk \(name): \(count) bytes at offset \(offset) lie beyond its end (\(size) bytes)")
        }
    }
}
