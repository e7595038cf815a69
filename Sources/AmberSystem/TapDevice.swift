import CSystem
import Glibc

/// A tap device opened through /dev/net/tun: Ethernet frames, each preceded by a 12-byte virtio-net header
/// (`struct virtio_net_hdr_v1`, with num_buffers), read and written without blocking. amber-vmm attaches to a
/// tap someone else created (the host network set-up); `create` is for tests and set-up tools.
public final class TapDevice: Sendable {
    /// The virtio-net header the tap reads and writes in front of every frame (TUNSETVNETHDRSZ).
    public static let headerSize = 12
    /// IFNAMSIZ - 1.
    public static let maximumNameLength = 15

    public let name: String
    public let descriptor: FileDescriptor

    /// The offloads the reader of a tap accepts in frames it reads (TUNSETOFFLOAD).
    public struct Offloads: OptionSet, Sendable, Hashable {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }
        /// Partial checksums (VIRTIO_NET_HDR_F_NEEDS_CSUM); the TSO ones need it.
        public static let checksum = Offloads(rawValue: CSYSTEM_TUN_F_CSUM)
        public static let tcpSegmentation4 = Offloads(rawValue: CSYSTEM_TUN_F_TSO4)
        public static let tcpSegmentation6 = Offloads(rawValue: CSYSTEM_TUN_F_TSO6)
        public static let tcpSegmentationECN = Offloads(rawValue: CSYSTEM_TUN_F_TSO_ECN)
    }

    private init(name: String, descriptor: FileDescriptor) {
        self.name = name
        self.descriptor = descriptor
    }

    /// Attaches to the existing tap `name` of this thread's network namespace, or, with `networkNamespacePath`
    /// (a /run/netns/NAME file or any other network namespace file), of that namespace: a thread of its own
    /// enters it, opens the tap and ends, so no other thread of the process changes namespace (a tap stays in
    /// the namespace it was opened in).
    public static func attach(name: String, networkNamespacePath: String? = nil) throws -> TapDevice {
        try checkName(name)
        guard let networkNamespacePath else { return try attachHere(name: name) }
        let work = try BackgroundWork(name: "tap-open") {
            let namespace = try FileDescriptor.open(networkNamespacePath, O_RDONLY)
            guard csystem_enter_network_namespace(namespace.rawValue) == 0 else {
                throw SystemError("network namespace \(networkNamespacePath) cannot be entered (setns)")
            }
            return try attachHere(name: name)
        }
        return try work.wait()
    }

    /// Creates the tap `name` in this thread's network namespace, for tests and set-up tools (needs
    /// CAP_NET_ADMIN). Not persistent, it exists while this descriptor is open; persistent, until its network
    /// namespace ends or it is deleted, and others can attach to it once this descriptor is closed.
    public static func create(name: String, persistent: Bool = false) throws -> TapDevice {
        try checkName(name)
        let fd = csystem_tap_open(name, Int32(headerSize), 1, persistent ? 1 : 0)
        guard fd >= 0 else { throw SystemError("tap device \(name) cannot be created") }
        return TapDevice(name: name, descriptor: FileDescriptor(owning: fd))
    }

    private static func checkName(_ name: String) throws {
        guard (1...maximumNameLength).contains(name.utf8.count), !name.utf8.contains(0), !name.contains("/") else {
            throw SystemError("tap device name \"\(name)\" is not 1 to \(maximumNameLength) bytes without / (IFNAMSIZ)", errno: EINVAL)
        }
    }

    private static func attachHere(name: String) throws -> TapDevice {
        // TUNSETIFF would create a missing tap: an existing one is required (the host side made and bridged it).
        guard if_nametoindex(name) != 0 else {
            throw SystemError("tap device \(name) does not exist", errno: ENODEV)
        }
        let fd = csystem_tap_open(name, Int32(headerSize), 0, 0)
        guard fd >= 0 else { throw SystemError("tap device \(name) cannot be opened") }
        return TapDevice(name: name, descriptor: FileDescriptor(owning: fd))
    }

    /// Tells the kernel which offloads frames read from the tap may use (the guest's negotiated ones).
    public func setOffloads(_ offloads: Offloads) throws {
        guard csystem_tap_set_offload(descriptor.rawValue, offloads.rawValue) == 0 else {
            throw SystemError("TUNSETOFFLOAD on tap device \(name)")
        }
    }

    /// Reads one frame (header and Ethernet frame) into `buffer`; nil when none is waiting. A frame longer than
    /// the buffer is cut (the kernel drops the rest).
    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int? {
        while true {
            let count = Glibc.read(descriptor.rawValue, buffer.baseAddress, buffer.count)
            if count >= 0 { return count }
            switch errno {
            case EINTR: continue
            case EAGAIN: return nil
            default: throw SystemError("read from tap device \(name)")
            }
        }
    }

    /// Writes one frame (header and Ethernet frame, in pieces) with one writev; at most IOV_MAX pieces.
    public func write(_ pieces: [UnsafeMutableRawBufferPointer]) throws {
        let vectors = pieces.map { iovec(iov_base: $0.baseAddress, iov_len: $0.count) }
        try vectors.withUnsafeBufferPointer { vectors in
            _ = try retryingInterrupts("write to tap device \(name)") {
                writev(descriptor.rawValue, vectors.baseAddress, Int32(vectors.count))
            }
        }
    }
}
