import AmberControl
import AmberSystem
import AmberTestSupport
import AmberVirtio
import Foundation
import Glibc
@testable import AmberVMM

let runsAsRoot = getuid() == 0
let tunPresent = FileManager.default.fileExists(atPath: "/dev/net/tun")

/// A network namespace of the test's own with one tap in it (persistent, so amber-vmm's side can attach to
/// it; it ends with the namespace) that is up, IPv6 off (no router solicitations to confuse the guest's
/// buffers), and an AF_PACKET socket on it: what the host side of a NIC sees. Nothing touches the host's own
/// namespace.
final class TapInNamespace: @unchecked Sendable {
    static let tapName = "amtap0"
    /// A local experimental EtherType, so test frames are told apart from anything else on the wire.
    static let etherType: [UInt8] = [0x88, 0xB5]

    let namespace: PrivateNetworkNamespace
    let packets: FileDescriptor

    init() throws {
        namespace = try PrivateNetworkNamespace()
        packets = try namespace.run {
            // The namespace's own sysctl (/proc/sys/net follows the opener's namespace).
            let disable = try FileDescriptor.open("/proc/sys/net/ipv6/conf/default/disable_ipv6", O_WRONLY)
            _ = Glibc.write(disable.rawValue, "1", 1)
            _ = try TapDevice.create(name: Self.tapName, persistent: true)
            try PrivateNetworkNamespace.setUp(interface: Self.tapName)
            return try PrivateNetworkNamespace.packetSocket(interface: Self.tapName)
        }
    }

    var interface: NetworkInterfaceConfiguration {
        NetworkInterfaceConfiguration(tapName: Self.tapName, macAddress: "52:54:00:12:34:56", networkNamespacePath: namespace.path)
    }

    /// An Ethernet frame from `source` to `destination` with the test EtherType and `payload`.
    static func frame(to destination: [UInt8] = [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF], from source: [UInt8], payload: [UInt8]) -> [UInt8] {
        destination + source + etherType + payload
    }

    /// Sends `frame` out of the tap's host side: the guest receives it.
    func inject(_ frame: [UInt8]) throws {
        _ = try retryingInterrupts("send on the tap") {
            frame.withUnsafeBytes { Glibc.send(packets.rawValue, $0.baseAddress, $0.count, 0) }
        }
    }

    /// The next frame with the test EtherType the tap's host side sees within `seconds` (frames the guest
    /// sent), or nil.
    func nextFrame(within seconds: Double = 10) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 70_000)
        var found: [UInt8]?
        _ = eventually(within: seconds, every: 0.002) {
            while found == nil {
                let count = buffer.withUnsafeMutableBytes { Glibc.recv(packets.rawValue, $0.baseAddress, $0.count, 0) }
                guard count > 0 else { return false }
                if count >= 14, Array(buffer[12..<14]) == Self.etherType { found = Array(buffer[0..<count]) }
            }
            return true
        }
        return found
    }
}

/// 64-bit guest code that notifies the receive (0) and transmit (1) queues of the virtio-mmio device at
/// `base` every few thousand loop iterations, forever: the KVM ioeventfds (datamatch = queue) wake the device.
/// The test plays the rest of the driver through the register window and guest memory.
enum NetKicker {
    static func code(base: UInt64 = 0xD000_0000) -> [UInt8] {
        let notify = UInt32(base + VirtioMMIORegister.queueNotify)
        return [0xB8] + withUnsafeBytes(of: notify.littleEndian, Array.init)  // loop: mov eax, base + 0x50
            + [0xC7, 0x00, 0x00, 0x00, 0x00, 0x00]  // mov dword [rax], 0
            + [0xC7, 0x00, 0x01, 0x00, 0x00, 0x00]  // mov dword [rax], 1
            + [0xB9, 0x00, 0x10, 0x00, 0x00]  // mov ecx, 0x1000
            + [0xFF, 0xC9, 0x75, 0xFC]  // delay: dec ecx; jnz delay
            + [0xEB, 0xE4]  // jmp loop
    }
}

/// The driver side of a virtio-net device, played by the test through the transport's registers and the
/// guest's memory: three queues of `queueSize` at fixed addresses above the tiny kernel, buffers above them.
final class NetDriver: @unchecked Sendable {
    static let queueSize: UInt16 = 16
    static let ringsBase: UInt64 = 0x20_0000
    static let buffersBase: UInt64 = 0x30_0000

    let transport: VirtioMMIOTransport
    let memory: GuestRAM
    private var nextDescriptor: [UInt16] = [0, 0, 0]
    private(set) var availableIndex: [UInt16] = [0, 0, 0]
    private var nextBuffer = NetDriver.buffersBase

    init(transport: VirtioMMIOTransport, memory: GuestRAM) {
        self.transport = transport
        self.memory = memory
    }

    static func descriptorTable(_ queue: Int) -> UInt64 { ringsBase + UInt64(queue) * 0x4000 }
    static func availableRing(_ queue: Int) -> UInt64 { descriptorTable(queue) + 0x1000 }
    static func usedRing(_ queue: Int) -> UInt64 { descriptorTable(queue) + 0x2000 }

    func setRegister(_ offset: UInt64, _ value: UInt32) {
        transport.write(offset: offset, size: 4, value: UInt64(value))
    }

    func register(_ offset: UInt64) -> UInt32 {
        UInt32(transport.read(offset: offset, size: 4))
    }

    /// Reset, negotiation of `features` (all offered by default), three queues, DRIVER_OK.
    func start(features: UInt64? = nil) throws {
        setRegister(VirtioMMIORegister.status, 0)
        try memory.write([UInt8](repeating: 0, count: 0xC000), at: Self.ringsBase)
        nextDescriptor = [0, 0, 0]
        availableIndex = [0, 0, 0]
        nextBuffer = Self.buffersBase
        setRegister(VirtioMMIORegister.status, VirtioStatus.acknowledge | VirtioStatus.driver)
        setRegister(VirtioMMIORegister.deviceFeaturesSelect, 1)
        let offered = UInt64(register(VirtioMMIORegister.deviceFeatures)) << 32
        setRegister(VirtioMMIORegister.deviceFeaturesSelect, 0)
        let accepted = features ?? (offered | UInt64(register(VirtioMMIORegister.deviceFeatures)))
        for select: UInt32 in [0, 1] {
            setRegister(VirtioMMIORegister.driverFeaturesSelect, select)
            setRegister(VirtioMMIORegister.driverFeatures, UInt32(truncatingIfNeeded: accepted >> (32 * UInt64(select))))
        }
        setRegister(VirtioMMIORegister.status, VirtioStatus.acknowledge | VirtioStatus.driver | VirtioStatus.featuresOK)
        for queue in 0..<3 {
            setRegister(VirtioMMIORegister.queueSelect, UInt32(queue))
            setRegister(VirtioMMIORegister.queueSize, UInt32(Self.queueSize))
            setRegister(VirtioMMIORegister.queueDescriptorLow, UInt32(Self.descriptorTable(queue)))
            setRegister(VirtioMMIORegister.queueAvailableLow, UInt32(Self.availableRing(queue)))
            setRegister(VirtioMMIORegister.queueUsedLow, UInt32(Self.usedRing(queue)))
            setRegister(VirtioMMIORegister.queueReady, 1)
        }
        setRegister(
            VirtioMMIORegister.status, VirtioStatus.acknowledge | VirtioStatus.driver | VirtioStatus.featuresOK | VirtioStatus.driverOK)
    }

    /// Continues `queue` where an earlier driver left it (a restored guest's rings).
    func continueQueue(_ queue: Int, availableIndex: UInt16, nextDescriptor: UInt16, nextBuffer: UInt64) {
        self.availableIndex[queue] = availableIndex
        self.nextDescriptor[queue] = nextDescriptor
        self.nextBuffer = nextBuffer
    }

    var needsReset: Bool { register(VirtioMMIORegister.status) & VirtioStatus.needsReset != 0 }

    func allocate(_ count: Int) -> UInt64 {
        let address = nextBuffer
        nextBuffer = (nextBuffer + UInt64(count) + 15) & ~15
        return address
    }

    func store<T: FixedWidthInteger>(_ value: T, at address: UInt64) throws {
        try memory.write(withUnsafeBytes(of: value.littleEndian, Array.init), at: address)
    }

    func bytes(at address: UInt64, count: Int) -> [UInt8] {
        Array(UnsafeRawBufferPointer(start: memory.pointer(guestAddress: address, count: count)!, count: count))
    }

    func setDescriptor(_ queue: Int, _ index: UInt16, address: UInt64, length: UInt32, flags: UInt16, next: UInt16 = 0) throws {
        let entry = Self.descriptorTable(queue) + UInt64(index) * 16
        try store(address, at: entry)
        try store(length, at: entry + 8)
        try store(flags, at: entry + 12)
        try store(next, at: entry + 14)
    }

    /// Puts a chain of buffers into `queue`'s table; returns its head.
    func addChain(_ queue: Int, _ buffers: [(address: UInt64, length: UInt32, writable: Bool)]) throws -> UInt16 {
        let head = nextDescriptor[queue]
        for (position, buffer) in buffers.enumerated() {
            let index = nextDescriptor[queue]
            nextDescriptor[queue] = (index + 1) % Self.queueSize
            let last = position == buffers.count - 1
            try setDescriptor(
                queue, index, address: buffer.address, length: buffer.length,
                flags: (buffer.writable ? 2 : 0) | (last ? 0 : 1), next: nextDescriptor[queue])
        }
        return head
    }

    /// Publishes `head` in `queue`'s available ring (the guest's next notification makes the device look).
    func publish(_ queue: Int, head: UInt16) throws {
        try store(head, at: Self.availableRing(queue) + 4 + 2 * UInt64(availableIndex[queue] % Self.queueSize))
        availableIndex[queue] &+= 1
        try store(availableIndex[queue], at: Self.availableRing(queue) + 2)
    }

    /// A frame to send: the 12-byte header (`flags`, `gsoType`, rest 0) and the frame, in one buffer.
    @discardableResult
    func transmit(_ frame: [UInt8], headerBytes: Int = 12, flags: UInt8 = 0, gsoType: UInt8 = 0) throws -> UInt16 {
        var header = [UInt8](repeating: 0, count: headerBytes)
        if headerBytes >= 2 { header[0] = flags; header[1] = gsoType }
        let bytes = header + frame
        let address = allocate(bytes.count)
        try memory.write(bytes, at: address)
        let head = try addChain(1, [(address, UInt32(bytes.count), false)])
        try publish(1, head: head)
        return head
    }

    /// Posts a receive chain of one `length`-byte buffer; returns its address.
    @discardableResult
    func postReceiveBuffer(length: Int) throws -> UInt64 {
        let address = allocate(length)
        try publish(0, head: try addChain(0, [(address, UInt32(length), true)]))
        return address
    }

    func usedIndex(_ queue: Int) -> UInt16 { memory.read(UInt16.self, at: Self.usedRing(queue) + 2) ?? 0 }

    func usedElement(_ queue: Int, _ index: UInt16) -> (id: UInt32, length: UInt32) {
        let entry = Self.usedRing(queue) + 4 + 8 * UInt64(index % Self.queueSize)
        return (memory.read(UInt32.self, at: entry) ?? 0, memory.read(UInt32.self, at: entry + 4) ?? 0)
    }

    func waitForUsed(_ queue: Int, _ index: UInt16, seconds: Double = 10) -> Bool {
        eventually(within: seconds, every: 0.001) { self.usedIndex(queue) == index }
    }
}

/// A VM amber-vmm's way (VMMHost, from a configuration) whose guest kicks the NIC's queues forever, with
/// one NIC on the tap of a namespace of the test's own.
struct GuestWithNIC {
    let scratch: Scratch
    let network: TapInNamespace
    let running: RunningHost
    let driver: NetDriver
    var device: VirtioNetDevice { running.host.networkDevices[0] }
    static let guestMAC: [UInt8] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56]

    /// Built and started; `features` nil negotiates all offered. With `restore`, the VM continues from that
    /// snapshot instead (its driver already started) on a tap of a new namespace, its NIC configured with `mac`.
    init(features: UInt64? = nil, restore: RestoreSource? = nil, mac: String = "52:54:00:12:34:56") throws {
        scratch = try Scratch()
        network = try TapInNamespace()
        var configuration = try scratch.configuration(entryCode: NetKicker.code())
        configuration.restore = restore
        configuration.networkInterfaces = [network.interface]
        configuration.networkInterfaces[0].macAddress = mac
        let host = try VMMHost(configuration: configuration, consoleOutput: nil)
        let attachment = host.virtioDevices[0]
        driver = NetDriver(transport: attachment.transport, memory: host.machine.memory)
        if restore == nil { try driver.start(features: features) }
        running = try RunningHost(host)
        _ = eventually(within: 10) { host.machine.currentState == .running }
    }

    func stop() {
        running.host.requestStop()
        _ = try? running.waitForExit()
        scratch.remove()
    }
}

/// A 64-bit tiny guest that drives the NIC at 0xD000_0000 itself, as a minimal virtio-net driver: handshake
/// (VERSION_1, MAC, STATUS, MRG_RXBUF, CSUM, GUEST_CSUM: the last makes the device set the tap's offloads),
/// receive and transmit queues, one receive buffer, one frame sent; then it waits for a frame to arrive,
/// prints `received` and powers off. Used where the test cannot reach into the VMM (amber-vmm, confined).
enum NetDriverGuest {
    static let received = "the guest received a frame\n"
    static let base: UInt64 = 0xD000_0000
    static let receiveBuffer: UInt64 = 0x30_0000
    static let transmitBuffer: UInt64 = 0x31_0000
    static let features: UInt32 = (1 << 0) | (1 << 1) | (1 << 5) | (1 << 15) | (1 << 16)

    /// mov rbx, address; mov dword [rbx], value
    static func store(_ address: UInt64, _ value: UInt32) -> [UInt8] {
        [0x48, 0xBB] + withUnsafeBytes(of: address.littleEndian, Array.init) + [0xC7, 0x03]
            + withUnsafeBytes(of: value.littleEndian, Array.init)
    }

    static func register(_ offset: UInt64, _ value: UInt32) -> [UInt8] { store(base + offset, value) }

    static func descriptor(queue: Int, address: UInt64, length: UInt32, flags: UInt16) -> [UInt8] {
        let entry = NetDriver.descriptorTable(queue)
        return store(entry, UInt32(truncatingIfNeeded: address)) + store(entry + 4, UInt32(address >> 32))
            + store(entry + 8, length) + store(entry + 12, UInt32(flags))
    }

    static func code(sending frame: [UInt8]) -> [UInt8] {
        typealias R = VirtioMMIORegister
        var code = register(R.status, 1) + register(R.status, 3)
        code += register(R.driverFeaturesSelect, 1) + register(R.driverFeatures, 1)
        code += register(R.driverFeaturesSelect, 0) + register(R.driverFeatures, features) + register(R.status, 11)
        for queue in 0..<2 {
            code += register(R.queueSelect, UInt32(queue)) + register(R.queueSize, UInt32(NetDriver.queueSize))
            code += register(R.queueDescriptorLow, UInt32(NetDriver.descriptorTable(queue)))
            code += register(R.queueAvailableLow, UInt32(NetDriver.availableRing(queue)))
            code += register(R.queueUsedLow, UInt32(NetDriver.usedRing(queue)))
            code += register(R.queueReady, 1)
        }
        code += register(R.status, 15)
        code += descriptor(queue: 0, address: receiveBuffer, length: 2048, flags: 2)
        code += store(NetDriver.availableRing(0), 1 << 16)  // flags 0, idx 1 (ring[0] = descriptor 0)
        let bytes = [UInt8](repeating: 0, count: 12) + frame
        for offset in stride(from: 0, to: bytes.count, by: 4) {
            let word = (0..<4).reduce(UInt32(0)) { $0 | UInt32(offset + $1 < bytes.count ? bytes[offset + $1] : 0) << (8 * UInt32($1)) }
            code += store(transmitBuffer + UInt64(offset), word)
        }
        code += descriptor(queue: 1, address: transmitBuffer, length: UInt32(bytes.count), flags: 0)
        code += store(NetDriver.availableRing(1), 1 << 16)
        code += register(R.queueNotify, 0) + register(R.queueNotify, 1)
        // mov rbx, used ring 0 + 2; wait: cmp word [rbx], 0; je wait
        code += [0x48, 0xBB] + withUnsafeBytes(of: (NetDriver.usedRing(0) + 2).littleEndian, Array.init)
        code += [0x66, 0x83, 0x3B, 0x00, 0x74, 0xFA]
        return code + LongMode.print(received) + LongMode.powerOff + LongMode.haltForever
    }
}
