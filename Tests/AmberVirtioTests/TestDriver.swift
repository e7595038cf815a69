import AmberSystem
import AmberTestSupport
import Foundation
import Glibc
@testable import AmberVirtio

extension MappedRegion: GuestMemory {}

/// A raw disk image in a temporary file whose sector n holds a pattern derived from n.
final class TestDiskImage {
    let path: String
    let sectors: Int

    static let content = Data((0..<2048 * 512).map { patternByte(offset: $0) })

    init() throws {
        path = NSTemporaryDirectory() + "amber-virtio-\(UUID().uuidString).img"
        sectors = 2048
        guard FileManager.default.createFile(atPath: path, contents: Self.content) else {
            throw VirtioError("test could not create \(path)")
        }
    }

    deinit {
        try? FileManager.default.removeItem(atPath: path)
    }

    static func patternByte(offset: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: offset &* 31 &+ offset / 512)
    }

    func bytes(sector: Int, count: Int) throws -> [UInt8] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return Array(data[(sector * 512)..<(sector * 512 + count * 512)])
    }
}

/// Drives a virtio-mmio transport the way Linux's virtio_mmio and virtio_blk drivers do: reset,
/// feature negotiation, queue set-up in guest memory, requests in the available ring, notify.
/// Guest memory layout: descriptor table 0x1000, available ring 0x3000, used ring 0x4000, and
/// request memory from 0x10000 handed out by `allocate`.
final class TestDriver {
    static let descriptorTable: UInt64 = 0x1000
    static let availableRing: UInt64 = 0x3000
    static let usedRing: UInt64 = 0x4000
    static let next: UInt16 = 1
    static let write: UInt16 = 2
    static let indirect: UInt16 = 4

    let memory: MappedRegion
    let transport: VirtioMMIOTransport
    let irqfd: EventFD
    let queueSize: UInt16
    private(set) var nextDescriptor: UInt16 = 0
    private(set) var availableIndex: UInt16 = 0
    private var nextFree: UInt64 = 0x10000

    /// `deviceMemory` is what the transport hands the device (the same RAM as `memory`, possibly wrapped).
    init(device: VirtioDevice, memory: MappedRegion, deviceMemory: GuestMemory? = nil, queueSize: UInt16 = 128) throws {
        self.memory = memory
        self.queueSize = queueSize
        irqfd = try EventFD(nonBlocking: true)
        transport = VirtioMMIOTransport(
            device: device, memory: deviceMemory ?? memory,
            interrupt: VirtioInterrupt(irqfd: irqfd))
    }

    convenience init(device: VirtioDevice, memorySize: Int = 4 << 20) throws {
        try self.init(device: device, memory: try MappedRegion(size: memorySize, flags: MAP_PRIVATE))
    }

    func register(_ offset: UInt64) -> UInt32 {
        UInt32(transport.read(offset: offset, size: 4))
    }

    func setRegister(_ offset: UInt64, _ value: UInt32) {
        transport.write(offset: offset, size: 4, value: UInt64(value))
    }

    var offeredFeatures: UInt64 {
        setRegister(VirtioMMIORegister.deviceFeaturesSelect, 1)
        let high = UInt64(register(VirtioMMIORegister.deviceFeatures))
        setRegister(VirtioMMIORegister.deviceFeaturesSelect, 0)
        return high << 32 | UInt64(register(VirtioMMIORegister.deviceFeatures))
    }

    /// The handshake up to FEATURES_OK; returns whether the device kept FEATURES_OK.
    func negotiate(features: UInt64? = nil) -> Bool {
        setRegister(VirtioMMIORegister.status, 0)
        setRegister(VirtioMMIORegister.status, VirtioStatus.acknowledge)
        setRegister(VirtioMMIORegister.status, VirtioStatus.acknowledge | VirtioStatus.driver)
        let accepted = features ?? offeredFeatures
        for select: UInt32 in [0, 1] {
            setRegister(VirtioMMIORegister.driverFeaturesSelect, select)
            setRegister(VirtioMMIORegister.driverFeatures, UInt32(truncatingIfNeeded: accepted >> (32 * UInt64(select))))
        }
        setRegister(VirtioMMIORegister.status, VirtioStatus.acknowledge | VirtioStatus.driver | VirtioStatus.featuresOK)
        return register(VirtioMMIORegister.status) & VirtioStatus.featuresOK != 0
    }

    /// Full initialisation: negotiation (of `features`, or all offered), queue 0 at the fixed addresses,
    /// DRIVER_OK.
    func start(features: UInt64? = nil) {
        precondition(negotiate(features: features))
        memset(memory.base, 0, 0x10000)
        nextDescriptor = 0
        availableIndex = 0
        setRegister(VirtioMMIORegister.queueSelect, 0)
        setRegister(VirtioMMIORegister.queueSize, UInt32(queueSize))
        setRegister(VirtioMMIORegister.queueDescriptorLow, UInt32(Self.descriptorTable))
        setRegister(VirtioMMIORegister.queueDescriptorHigh, 0)
        setRegister(VirtioMMIORegister.queueAvailableLow, UInt32(Self.availableRing))
        setRegister(VirtioMMIORegister.queueAvailableHigh, 0)
        setRegister(VirtioMMIORegister.queueUsedLow, UInt32(Self.usedRing))
        setRegister(VirtioMMIORegister.queueUsedHigh, 0)
        setRegister(VirtioMMIORegister.queueReady, 1)
        setRegister(
            VirtioMMIORegister.status,
            VirtioStatus.acknowledge | VirtioStatus.driver | VirtioStatus.featuresOK
                | VirtioStatus.driverOK)
    }

    func allocate(_ count: Int) -> UInt64 {
        let address = nextFree
        nextFree = (nextFree + UInt64(count) + 15) & ~15
        return address
    }

    func store<T: FixedWidthInteger>(_ value: T, at address: UInt64) {
        memory.pointer(at: address, count: MemoryLayout<T>.size)!.storeBytes(of: value.littleEndian, as: T.self)
    }

    func load<T: FixedWidthInteger>(_: T.Type, at address: UInt64) -> T {
        T(littleEndian: memory.pointer(at: address, count: MemoryLayout<T>.size)!.loadUnaligned(as: T.self))
    }

    func bytes(at address: UInt64, count: Int) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: memory.pointer(at: address, count: count)!, count: count))
    }

    func copy(_ bytes: [UInt8], to address: UInt64) {
        memory.pointer(at: address, count: bytes.count)!.copyMemory(from: bytes, byteCount: bytes.count)
    }

    /// Writes one descriptor into `table` (the queue's table unless given).
    func setDescriptor(
        _ index: UInt16, address: UInt64, length: UInt32, flags: UInt16, next: UInt16 = 0,
        table: UInt64 = TestDriver.descriptorTable
    ) {
        let entry = table + UInt64(index) * 16
        store(address, at: entry)
        store(length, at: entry + 8)
        store(flags, at: entry + 12)
        store(next, at: entry + 14)
    }

    /// Puts a chain of buffers (address, length, device-writable) into the descriptor table; returns its head.
    func addChain(_ buffers: [(address: UInt64, length: UInt32, writable: Bool)]) -> UInt16 {
        let head = nextDescriptor
        for (position, buffer) in buffers.enumerated() {
            let index = nextDescriptor
            nextDescriptor = (nextDescriptor + 1) % queueSize
            let isLast = position == buffers.count - 1
            setDescriptor(
                index, address: buffer.address, length: buffer.length,
                flags: (buffer.writable ? Self.write : 0) | (isLast ? 0 : Self.next), next: nextDescriptor)
        }
        return head
    }

    /// Publishes `head` in the available ring and notifies queue 0.
    func submit(head: UInt16, notify: Bool = true) {
        store(head, at: Self.availableRing + 4 + 2 * UInt64(availableIndex % queueSize))
        availableIndex &+= 1
        store(availableIndex, at: Self.availableRing + 2)
        if notify { setRegister(VirtioMMIORegister.queueNotify, 0) }
    }

    var usedIndex: UInt16 { load(UInt16.self, at: Self.usedRing + 2) }

    func usedElement(_ index: UInt16) -> (id: UInt32, length: UInt32) {
        let entry = Self.usedRing + 4 + 8 * UInt64(index % queueSize)
        return (load(UInt32.self, at: entry), load(UInt32.self, at: entry + 4))
    }

    /// Waits (up to 5 s) until the used ring reaches `index`; returns whether it did.
    @discardableResult
    func waitForUsed(_ index: UInt16) -> Bool {
        waitUntil { self.usedIndex == index }
    }

    func waitUntil(_ condition: () -> Bool) -> Bool {
        eventually(within: 5, every: 0.0005, condition)
    }

    /// Interrupts signalled through the irqfd since the last call.
    func takeInterrupts() -> UInt64 {
        (try? irqfd.wait()) ?? 0
    }

    // MARK: block requests

    struct BlockRequest {
        let head: UInt16
        let header: UInt64
        let data: UInt64
        let status: UInt64
    }

    /// A virtio-blk request laid out as Linux does: header, data, status in three descriptors.
    func blockRequest(type: UInt32, sector: UInt64, dataLength: Int, deviceWritesData: Bool) -> BlockRequest {
        let header = allocate(16)
        store(type, at: header)
        store(UInt32(0), at: header + 4)
        store(sector, at: header + 8)
        let data = allocate(max(dataLength, 1))
        let status = allocate(1)
        store(UInt8(0xFF), at: status)
        var buffers: [(address: UInt64, length: UInt32, writable: Bool)] = [(header, 16, false)]
        if dataLength > 0 { buffers.append((data, UInt32(dataLength), deviceWritesData)) }
        buffers.append((status, 1, true))
        return BlockRequest(head: addChain(buffers), header: header, data: data, status: status)
    }

    /// Submits `request`, waits for its completion and returns its status byte (nil on timeout).
    func run(_ request: BlockRequest) -> UInt8? {
        submit(head: request.head)
        guard waitForUsed(availableIndex) else { return nil }
        return load(UInt8.self, at: request.status)
    }
}
