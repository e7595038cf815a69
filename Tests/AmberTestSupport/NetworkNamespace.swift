import Foundation
import Glibc

/// A network namespace of a test's own (`ip netns add amber-t-XXXXXXXX`): every bridge, tap, nftables table,
/// sysctl and dnsmasq a network test makes lives and dies in it, never in the host's own namespace. `remove()`
/// kills whatever still runs in it (a dnsmasq a failed test left) and deletes it.
public final class NetworkNamespace: Sendable {
    public let name: String
    public static let ip = "/usr/sbin/ip"
    /// Enters the network namespace only, not `ip netns exec`'s mount namespace of its own: a namespace that amber
    /// names in /run/netns (a clone's) must stay visible to the next command, as it is when amber runs on a host.
    public static let nsenter = "/usr/bin/nsenter"

    public init(prefix: String = "amber-t") throws {
        name = "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
        let added = try runProcess(URL(fileURLWithPath: Self.ip), ["netns", "add", name], timeout: 30)
        guard added.status == 0 else { throw Failure(description: "ip netns add \(name): \(added.stderr)") }
        _ = try exec(Self.ip, ["link", "set", "lo", "up"])
    }

    /// Runs `executable arguments...` inside the namespace (`nsenter --net`), at most `timeout` seconds.
    public func exec(_ executable: String, _ arguments: [String], timeout: Double = 60, environment: [String: String] = [:]) throws
        -> CLIResult
    {
        try runProcess(
            URL(fileURLWithPath: Self.nsenter), ["--net=/run/netns/\(name)", executable] + arguments, timeout: timeout,
            environment: environment)
    }

    /// Starts `executable arguments...` inside the namespace without waiting (a server); its output is discarded.
    /// `remove()` kills it if the caller did not.
    public func start(_ executable: String, _ arguments: [String]) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.nsenter)
        process.arguments = ["--net=/run/netns/\(name)", executable] + arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    /// Runs the built `amber` inside the namespace against `home`.
    public func amber(_ arguments: [String], home: CLIHome, timeout: Double = 60) throws -> CLIResult {
        guard AmberBinary.exists else { throw MissingBinary(path: AmberBinary.path) }
        return try exec(AmberBinary.path, arguments + ["--home", home.root.path], timeout: timeout)
    }

    /// Runs `body` on a thread of its own that has entered the namespace (a network namespace belongs to a
    /// thread; what it spawns inherits it), so library code can be tested without touching the host's
    /// network. The thread ends with `body`: no other work ever runs in the namespace by accident.
    public func perform<T: Sendable>(_ body: @escaping @Sendable () throws -> T) throws -> T {
        let path = "/run/netns/\(name)"
        let box = ResultBox<T>()
        var thread = pthread_t()
        let context = Unmanaged.passRetained(
            ThreadContext {
                let fd = open(path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0, Self.setns(fd, Self.cloneNewNet) == 0 else {
                    box.set(.failure(Failure(description: "cannot enter network namespace \(path): errno \(errno)")))
                    if fd >= 0 { close(fd) }
                    return
                }
                close(fd)
                guard Self.namespaceInode("/proc/thread-self/ns/net") != Self.namespaceInode("/proc/\(getpid())/ns/net") else {
                    box.set(.failure(Failure(description: "still in the test process's network namespace")))
                    return
                }
                box.set(Result { try body() })
            })
        let started = pthread_create(
            &thread, nil,
            { raw in
                let context = Unmanaged<ThreadContext>.fromOpaque(raw!).takeRetainedValue()
                context.body()
                return nil
            }, context.toOpaque())
        guard started == 0 else {
            context.release()
            throw Failure(description: "pthread_create: \(started)")
        }
        pthread_join(thread, nil)
        return try box.get()
    }

    /// Kills every process left in the namespace (SIGKILL; waits up to 5 s for them to go) and deletes it.
    public func remove() {
        if let pids = try? runProcess(URL(fileURLWithPath: Self.ip), ["netns", "pids", name], timeout: 30) {
            let list = pids.stdout.split(whereSeparator: \.isNewline).compactMap { pid_t($0) }
            for pid in list { kill(pid, SIGKILL) }
            let deadline = Date().addingTimeInterval(5)
            while list.contains(where: { kill($0, 0) == 0 }), Date() < deadline { usleep(10_000) }
        }
        _ = try? runProcess(URL(fileURLWithPath: Self.ip), ["netns", "del", name], timeout: 30)
    }

    /// Whether network tests can run here: as root, with iproute2.
    public static var available: Bool { getuid() == 0 && access(ip, X_OK) == 0 }

    private static let cloneNewNet: Int32 = 0x4000_0000
    /// setns(2) is declared only under _GNU_SOURCE, which Glibc's Swift module lacks: found at run time.
    private static func setns(_ fd: Int32, _ type: Int32) -> Int32 {
        typealias Function = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "setns") else { return -1 }
        return unsafeBitCast(symbol, to: Function.self)(fd, type)
    }

    private static func namespaceInode(_ path: String) -> UInt64 {
        var info = stat()
        return stat(path, &info) == 0 ? UInt64(info.st_ino) : 0
    }

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    private final class ThreadContext {
        let body: () -> Void
        init(_ body: @escaping () -> Void) { self.body = body }
    }

    private final class ResultBox<T>: @unchecked Sendable {
        // @unchecked: written once by the namespace thread before pthread_join returns, read after it.
        private var result: Result<T, Error>?
        func set(_ value: Result<T, Error>) { result = value }
        func get() throws -> T { try result!.get() }
    }
}
