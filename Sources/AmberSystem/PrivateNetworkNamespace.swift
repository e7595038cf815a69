import CSystem
import Glibc

/// A network namespace of its own, for tests and set-up tools: made by a thread that leaves its own
/// namespace (unshare), kept alive by a descriptor of it, and reachable by others through `path`.
public final class PrivateNetworkNamespace: Sendable {
    public let descriptor: FileDescriptor

    public init() throws {
        let work = try BackgroundWork(name: "netns-new") { () throws -> FileDescriptor in
            guard csystem_unshare_network_namespace() == 0 else { throw SystemError("unshare(CLONE_NEWNET)") }
            return try FileDescriptor.open("/proc/thread-self/ns/net", O_RDONLY)
        }
        descriptor = try work.wait()
    }

    /// A path that opens this namespace while the descriptor is open (also from other processes).
    public var path: String { "/proc/\(getpid())/fd/\(descriptor.rawValue)" }

    /// Runs `body` on a thread inside the namespace: whatever it creates (taps, sockets) lives there.
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        let descriptor = descriptor
        return try BackgroundWork(name: "netns-run") { () throws -> T in
            guard csystem_enter_network_namespace(descriptor.rawValue) == 0 else { throw SystemError("setns(CLONE_NEWNET)") }
            return try body()
        }.wait()
    }

    /// Sets the interface `name` of the calling thread's namespace up (run it inside `run`).
    public static func setUp(interface name: String) throws {
        guard csystem_set_interface_up(name) == 0 else { throw SystemError("SIOCSIFFLAGS IFF_UP on \(name)") }
    }

    /// A non-blocking AF_PACKET socket on interface `name` of the calling thread's namespace (run it inside `run`).
    public static func packetSocket(interface name: String) throws -> FileDescriptor {
        let index = if_nametoindex(name)
        guard index != 0 else { throw SystemError("interface \(name) does not exist", errno: ENODEV) }
        let fd = csystem_packet_socket(index)
        guard fd >= 0 else { throw SystemError("AF_PACKET socket on \(name)") }
        return FileDescriptor(owning: fd)
    }
}
