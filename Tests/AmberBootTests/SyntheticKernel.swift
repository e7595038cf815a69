import Glibc
@testable import AmberBoot

/// A bzImage-shaped file built byte by byte: a boot sector, a setup header with the fields the loader
/// reads, setup sectors, and a recognisable protected-mode payload.
struct SyntheticKernel {
    var version: UInt16 = 0x020F
    var setupSectors: UInt8 = 4
    var loadFlags: UInt8 = 0x01
    var extendedLoadFlags: UInt16 = 0x7F
    var initrdAddressMax: UInt32 = 0x7FFF_FFFF
    var commandLineSize: UInt32 = 2047
    var relocatable: UInt8 = 1
    var kernelAlignment: UInt32 = 0x20_0000
    var preferredAddress: UInt64 = 0x100_0000
    var initSize: UInt32 = 0x200_0000
    var payloadSize = 64 << 10

    static let headerJump: UInt8 = 0x6A

    var bytes: [UInt8] {
        let setupEnd = (Int(setupSectors == 0 ? 4 : setupSectors) + 1) * 512
        var bytes = [UInt8](repeating: 0, count: setupEnd + payloadSize)
        bytes[0x1F1] = setupSectors
        bytes[0x1FE] = 0x55
        bytes[0x1FF] = 0xAA
        bytes[0x200] = 0xEB
        bytes[0x201] = Self.headerJump
        bytes.replaceSubrange(0x202..<0x206, with: Array("HdrS".utf8))
        bytes.storeLittleEndian(version, at: 0x206)
        bytes[0x211] = loadFlags
        bytes.storeLittleEndian(initrdAddressMax, at: 0x22C)
        bytes.storeLittleEndian(kernelAlignment, at: 0x230)
        bytes[0x234] = relocatable
        bytes.storeLittleEndian(extendedLoadFlags, at: 0x236)
        bytes.storeLittleEndian(commandLineSize, at: 0x238)
        bytes.storeLittleEndian(preferredAddress, at: 0x258)
        bytes.storeLittleEndian(initSize, at: 0x260)
        for index in 0..<payloadSize { bytes[setupEnd + index] = UInt8(truncatingIfNeeded: index &* 7 &+ 3) }
        return bytes
    }

    func image(name: String = "/test/bzImage") throws -> BzImage {
        try BzImage(bytes: bytes, name: name)
    }
}

/// Fresh zeroed anonymous memory standing in for guest RAM from GPA 0; untouched pages cost nothing,
/// so multi-GiB layouts can be tested.
final class TestGuestMemory {
    let buffer: UnsafeMutableRawBufferPointer

    init(size: UInt64) {
        let pointer = mmap(nil, Int(size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0)
        precondition(pointer != MAP_FAILED, "test could not map \(size) bytes")
        buffer = UnsafeMutableRawBufferPointer(start: pointer, count: Int(size))
    }

    deinit {
        munmap(buffer.baseAddress, buffer.count)
    }

    func bytes(at address: UInt64, count: Int) -> [UInt8] {
        Array(buffer[Int(address)..<(Int(address) + count)])
    }

    func load<T: FixedWidthInteger>(_: T.Type, at address: UInt64) -> T {
        T(littleEndian: buffer.loadUnaligned(fromByteOffset: Int(address), as: T.self))
    }
}
