import AmberMachineState
import Synchronization

/// A split virtqueue (virtio 1.x, section 2.7) in guest memory, seen from the device: takes descriptor
/// chains from the available ring and returns them through the used ring. Every index, address and
/// length read from guest memory is checked; a chain may hold at most `maximumChainLength` descriptors
/// (direct and indirect together), so a looping or endless chain ends in an error, not a hang.
/// Used from one thread at a time (the device's worker).
/// Unchecked: its indices change without a lock and its ring pointers point into guest memory; one thread
/// uses it at a time (the device's worker; the device swaps queues only while the worker is idle,
/// `DeviceWorker.whileIdle`), which keeps the request path free of locks.
public final class SplitVirtqueue: @unchecked Sendable {
    public static let maximumChainLength = 4096
    static let descriptorSize = 16
    static let nextFlag: UInt16 = 1
    static let writeFlag: UInt16 = 2
    static let indirectFlag: UInt16 = 4
    static let noInterruptFlag: UInt16 = 1

    public let size: UInt16
    /// Index of the next available-ring entry to take (free-running, wraps at 2^16).
    public private(set) var nextAvailable: UInt16
    /// Index of the next used-ring entry to fill (free-running, wraps at 2^16).
    public private(set) var nextUsed: UInt16

    private let memory: GuestMemory
    private let descriptorTable: UnsafeMutableRawPointer
    private let availableRing: UnsafeMutableRawPointer
    private let usedRing: UnsafeMutableRawPointer
    private let usedRingAddress: UInt64

    /// Maps the rings of a queue the driver configured; throws when they are misaligned, sized wrongly or
    /// not in guest RAM.
    public init(
        memory: GuestMemory, configuration: VirtqueueConfiguration, maximumSize: UInt16,
        nextAvailable: UInt16 = 0, nextUsed: UInt16 = 0
    ) throws {
        let size = configuration.size
        guard size > 0, size <= maximumSize, size & (size - 1) == 0 else {
            throw VirtioError("virtqueue size \(size) is not a power of two up to \(maximumSize)")
        }
        let count = Int(size)
        func map(_ address: UInt64, _ length: Int, alignment: UInt64, _ what: String) throws -> UnsafeMutableRawPointer {
            guard address % alignment == 0, let pointer = memory.pointer(at: address, count: length) else {
                throw VirtioError("virtqueue \(what) at 0x\(String(address, radix: 16)) is misaligned or outside guest memory")
            }
            return pointer
        }
        descriptorTable = try map(
            configuration.descriptorTable, count * Self.descriptorSize, alignment: 16,
            "descriptor table")
        availableRing = try map(configuration.availableRing, 6 + 2 * count, alignment: 2, "available ring")
        usedRing = try map(configuration.usedRing, 6 + 8 * count, alignment: 4, "used ring")
        usedRingAddress = configuration.usedRing
        self.memory = memory
        self.size = size
        self.nextAvailable = nextAvailable
        self.nextUsed = nextUsed
    }

    /// Takes the next chain from the available ring; nil when the ring is empty. Throws when the guest
    /// broke the ring or the chain (the entry is consumed either way).
    public func popAvailable() throws -> DescriptorChain? {
        let availableIndex = loadUInt16(availableRing, 2)
        guard availableIndex != nextAvailable else { return nil }
        atomicMemoryFence(ordering: .acquiring)
        guard availableIndex &- nextAvailable <= size else {
            throw VirtioError("available ring index \(availableIndex) is more than \(size) entries ahead of \(nextAvailable)")
        }
        let head = loadUInt16(availableRing, 4 + 2 * Int(nextAvailable % size))
        nextAvailable &+= 1
        return try chain(startingAt: head)
    }

    /// Gives back the last `count` chains `popAvailable` returned and nothing used yet: the next
    /// `popAvailable` returns them again (a received frame that needs more buffers than the driver has made
    /// available waits for more).
    public func undoPop(_ count: Int) {
        precondition(count >= 0 && count <= Int(size))
        nextAvailable &-= UInt16(count)
    }

    /// Returns a chain to the driver with the number of bytes the device wrote into it (from the start
    /// of its writable buffers), and reports those bytes and the used-ring entry to guest memory as
    /// written. The entry is visible to the driver before the index that publishes it.
    public func addUsed(_ chain: DescriptorChain, writtenLength: UInt32) {
        var unreported = Int(writtenLength)
        for (buffer, address) in zip(chain.writable, chain.writableAddresses) where unreported > 0 {
            memory.didWrite(at: address, count: min(buffer.count, unreported))
            unreported -= buffer.count
        }
        let slot = Int(nextUsed % size)
        let element = usedRing + 4 + 8 * slot
        element.storeBytes(of: UInt32(chain.head).littleEndian, as: UInt32.self)
        (element + 4).storeBytes(of: writtenLength.littleEndian, as: UInt32.self)
        nextUsed &+= 1
        atomicMemoryFence(ordering: .releasing)
        (usedRing + 2).storeBytes(of: nextUsed.littleEndian, as: UInt16.self)
        memory.didWrite(at: usedRingAddress + 2, count: 2)
        memory.didWrite(at: usedRingAddress + 4 + 8 * UInt64(slot), count: 8)
    }

    /// Whether the driver wants an interrupt for used buffers (it sets VIRTQ_AVAIL_F_NO_INTERRUPT while
    /// it polls). The full fence orders the used-index store before this load, so a driver that
    /// re-enables interrupts either sees the new entries or gets the interrupt.
    public var driverWantsInterrupt: Bool {
        atomicMemoryFence(ordering: .sequentiallyConsistent)
        return loadUInt16(availableRing, 0) & Self.noInterruptFlag == 0
    }

    private func chain(startingAt head: UInt16) throws -> DescriptorChain {
        var chain = DescriptorChain(head: head)
        var visited = 0
        var table = descriptorTable
        var tableSize = size
        var index = head
        var inIndirectTable = false
        while true {
            guard index < tableSize else {
                throw VirtioError("descriptor index \(index) is outside a table of \(tableSize)")
            }
            visited += 1
            guard visited <= Self.maximumChainLength, inIndirectTable || visited <= Int(size) else {
                throw VirtioError("descriptor chain from head \(head) is longer than allowed (a loop?)")
            }
            let descriptor = table + Int(index) * Self.descriptorSize
            let address = loadUInt64(descriptor, 0)
            let length = loadUInt32(descriptor, 8)
            let flags = loadUInt16(descriptor, 12)
            let next = loadUInt16(descriptor, 14)
            if flags & Self.indirectFlag != 0 {
                guard !inIndirectTable, flags & Self.nextFlag == 0 else {
                    throw VirtioError("indirect descriptor nested or chained in the chain from head \(head)")
                }
                let entries = Int(length) / Self.descriptorSize
                guard length % UInt32(Self.descriptorSize) == 0, entries > 0, entries <= Self.maximumChainLength,
                    let indirect = memory.pointer(at: address, count: Int(length))
                else {
                    throw VirtioError("indirect descriptor table of \(length) bytes at 0x\(String(address, radix: 16)) is invalid")
                }
                table = indirect
                tableSize = UInt16(entries)
                index = 0
                inIndirectTable = true
                continue
            }
            guard let buffer = memory.buffer(at: address, count: Int(length)) else {
                throw VirtioError("descriptor buffer of \(length) bytes at 0x\(String(address, radix: 16)) is outside guest memory")
            }
            if flags & Self.writeFlag != 0 {
                chain.writable.append(buffer)
                chain.writableAddresses.append(address)
            } else {
                chain.readable.append(buffer)
            }
            guard flags & Self.nextFlag != 0 else { return chain }
            index = next
        }
    }

    private func loadUInt16(_ base: UnsafeMutableRawPointer, _ offset: Int) -> UInt16 {
        UInt16(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt16.self))
    }

    private func loadUInt32(_ base: UnsafeMutableRawPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    private func loadUInt64(_ base: UnsafeMutableRawPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}
