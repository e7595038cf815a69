import AmberDisk
import AmberSystem

/// One virtio-blk request: a 16-byte header {type, reserved, sector} at the start of the readable
/// bytes, data after it (writes) or at the start of the writable bytes (reads), and the status byte as
/// the last writable byte.
enum BlockRequest {
    static let headerSize = 16
    static let typeIn: UInt32 = 0
    static let typeOut: UInt32 = 1
    static let typeFlush: UInt32 = 4
    static let typeGetID: UInt32 = 8
    static let statusOK: UInt8 = 0
    static let statusIOError: UInt8 = 1
    static let statusUnsupported: UInt8 = 2

    /// Executes `chain` and writes its status byte (with `writeThrough`, a write is flushed before it
    /// completes); returns how many bytes were written into the chain (0 when it has no room for a
    /// status byte or no header, so nothing can be reported).
    static func execute(
        _ chain: DescriptorChain, on backend: BlockBackend, capacitySectors: UInt64,
        readOnly: Bool, writeThrough: Bool, serial: [UInt8]
    ) -> UInt32 {
        let writable = chain.writableLength
        guard writable >= 1, let header = chain.copyReadable(from: 0, count: headerSize) else { return 0 }
        let type = header.withUnsafeBytes { UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) }
        let sector = header.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: 8, as: UInt64.self)) }
        let dataSpace = writable - 1
        var dataWritten = 0
        let status: UInt8
        switch type {
        case typeIn:
            status = transfer(
                chain.writableRange(from: 0, count: dataSpace), sector: sector,
                capacitySectors: capacitySectors
            ) { buffers, offset in
                try backend.read(into: buffers, at: offset)
            }
            dataWritten = status == statusOK ? dataSpace : 0
        case typeOut:
            status =
                readOnly
                ? statusIOError
                : transfer(
                    chain.readableRange(from: headerSize, count: chain.readableLength - headerSize), sector: sector,
                    capacitySectors: capacitySectors
                ) { buffers, offset in
                    try backend.write(from: buffers, at: offset)
                    if writeThrough { try backend.flush() }
                }
        case typeFlush:
            status = (try? backend.flush()) != nil ? statusOK : statusIOError
        case typeGetID:
            dataWritten = chain.copyToWritable(Array(serial.prefix(dataSpace)), at: 0)
            status = statusOK
        default:
            status = statusUnsupported
        }
        chain.copyToWritable([status], at: dataSpace)
        return UInt32(clamping: dataWritten + 1)
    }

    /// Moves whole sectors between guest buffers and the backend; I/O error when the range is not a whole
    /// number of sectors inside the disk or the backend fails.
    private static func transfer(
        _ buffers: [UnsafeMutableRawBufferPointer], sector: UInt64, capacitySectors: UInt64,
        _ move: ([UnsafeMutableRawBufferPointer], UInt64) throws -> Void
    ) -> UInt8 {
        let length = UInt64(buffers.reduce(0) { $0 + $1.count })
        let sectorSize = VirtioBlockDevice.sectorSize
        guard length % sectorSize == 0, sector <= capacitySectors,
            length / sectorSize <= capacitySectors - sector
        else { return statusIOError }
        return (try? move(buffers, sector * sectorSize)) != nil ? statusOK : statusIOError
    }
}
