import AmberSystem
import Synchronization

/// A device reachable through port I/O or MMIO. `offset` is relative to the base it was registered
/// at; accesses are 1, 2, 4 or 8 bytes, little-endian.
public protocol BusDevice: AnyObject {
    func read(offset: UInt64, into data: UnsafeMutableRawBufferPointer)
    func write(offset: UInt64, from data: UnsafeRawBufferPointer)
}

/// Routes guest accesses by address to the device registered there. Devices are registered while
/// the machine is built and never after it starts, so lookups need no lock.
///
/// Accesses no device claims are ignored: writes are dropped and reads return all ones (0xFF in
/// every byte), what a read of an empty ISA bus or unclaimed PCI space returns on real hardware.
/// Both are counted.
/// Unchecked: `mappings` is a var read without a lock on every port and MMIO exit (the vCPUs' hot
/// path); it changes only while the machine is built, before any vCPU thread exists, which the
/// compiler cannot see.
public final class IOBus: @unchecked Sendable {
    public static let unclaimedReadByte: UInt8 = 0xFF

    private struct Mapping {
        let base: UInt64
        let length: UInt64
        let device: BusDevice
    }

    public let name: String
    private var mappings: [Mapping] = []
    private let unclaimedReadCount = Atomic(0)
    private let unclaimedWriteCount = Atomic(0)

    public init(name: String) {
        self.name = name
    }

    public func register(_ device: BusDevice, base: UInt64, length: UInt64) throws {
        let end = base + length
        if let clash = mappings.first(where: { base < $0.base + $0.length && $0.base < end }) {
            throw MachineError(
                "\(name) range 0x\(String(base, radix: 16))+\(length) overlaps the device at 0x\(String(clash.base, radix: 16))")
        }
        mappings.append(Mapping(base: base, length: length, device: device))
    }

    private func mapping(for address: UInt64, count: Int) -> Mapping? {
        mappings.first { address >= $0.base && address + UInt64(count) <= $0.base + $0.length }
    }

    public func read(_ address: UInt64, into data: UnsafeMutableRawBufferPointer) {
        guard let mapping = mapping(for: address, count: data.count) else {
            data.initializeMemory(as: UInt8.self, repeating: Self.unclaimedReadByte)
            unclaimedReadCount.add(1, ordering: .relaxed)
            return
        }
        mapping.device.read(offset: address - mapping.base, into: data)
    }

    public func write(_ address: UInt64, from data: UnsafeRawBufferPointer) {
        guard let mapping = mapping(for: address, count: data.count) else {
            unclaimedWriteCount.add(1, ordering: .relaxed)
            return
        }
        mapping.device.write(offset: address - mapping.base, from: data)
    }

    /// How many reads and writes no device claimed.
    public var unclaimedAccesses: (reads: Int, writes: Int) {
        (unclaimedReadCount.load(ordering: .relaxed), unclaimedWriteCount.load(ordering: .relaxed))
    }
}
