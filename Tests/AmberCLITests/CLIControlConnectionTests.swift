@testable import AmberCore
import AmberSystem
import AmberTestSupport
import AmberVMM
import Foundation
import Glibc
import Testing

/// amber-vmm's control socket cannot be exhausted by idle connections: it serves a bounded number at
/// once, closes a connection that sends no request in time, and refuses other users.
@Suite("Control connections", .serialized, .enabled(if: FileManager.default.fileExists(atPath: "/dev/kvm")))
struct CLIControlConnectionTests {
    @Test func idleConnectionsAreBoundedAndClosed() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "cc", "--timeout", "5"])
            home.remove()
        }
        try home.startCounter("cc")
        let socket = AmberHome(explicit: home.root.path).vm("cc").controlSocket.path
        let idle = try (0..<ControlServer.maximumConnections).map { _ in try UnixSocket.connect(path: socket) }
        // One more is told why and closed (the server counts a connection from its accept, so allow it a moment).
        let refusedBy = Date().addingTimeInterval(30)
        var answer = ""
        while !answer.contains("control connections are open already"), Date() < refusedBy {
            let extra = try UnixSocket.connect(path: socket)
            try extra.setSocketTimeout(2)
            answer = (try? LineReader(extra).readLine()).flatMap { $0 }.map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        #expect(answer.contains("\(ControlServer.maximumConnections) control connections are open already"), "\(answer)")
        // The idle ones are closed once their request time is up; then the VM answers again.
        try idle[0].setSocketTimeout(ControlServer.requestTimeout * 6)
        var byte = [UInt8](repeating: 0, count: 1)
        let read = try byte.withUnsafeMutableBytes { try idle[0].readSome(into: $0) }
        #expect(read == 0, "the server closed the idle connection")
        let answered = Date().addingTimeInterval(30)
        while (try? ControlClient(AmberHome(explicit: home.root.path).vm("cc")).status()) == nil, Date() < answered { usleep(50_000) }
        #expect(try ControlClient(AmberHome(explicit: home.root.path).vm("cc")).status().state == .running)
    }

    /// Another user cannot control the VM even when the socket's mode would let it connect.
    @Test(.enabled(if: getuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv")))
    func anotherUsersConnectionIsRefused() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "cu", "--timeout", "5"])
            home.remove()
        }
        try home.startCounter("cu")
        let socket = AmberHome(explicit: home.root.path).vm("cu").controlSocket.path
        // Open the way for user nobody: every directory up to the socket, and the socket itself.
        var path = (socket as NSString).deletingLastPathComponent
        while path != "/" {
            var info = stat()
            if stat(path, &info) == 0 { chmod(path, info.st_mode | 0o005) }
            path = (path as NSString).deletingLastPathComponent
        }
        chmod(socket, 0o666)
        let probe = """
            import socket, sys
            s = socket.socket(socket.AF_UNIX); s.settimeout(20); s.connect(sys.argv[1])
            try:
                s.sendall(b'{"op":"pause"}\\n')
            except BrokenPipeError:
                pass  # refused before the request was read: the answer is already there
            print(s.recv(4096).decode())
            """
        let result = try runProcess(
            URL(fileURLWithPath: "/usr/bin/setpriv"),
            ["--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c", probe, socket])
        #expect(result.status == 0, "the probe could not connect: \(result.stderr)")
        #expect(result.stdout.contains("only the user who started this VM may control it"), "\(result.stdout)")
        #expect(try ControlClient(AmberHome(explicit: home.root.path).vm("cu")).status().state == .running, "not paused")
    }
}
