@testable import AmberCore
import AmberTestSupport
import AmberVMM
import Foundation
import Glibc
import Testing

/// amber-vmm confines itself before the guest runs: seen from outside through /proc, as the issue asks.
@Suite("amber-vmm's jail", .serialized, .enabled(if: FileManager.default.fileExists(atPath: "/dev/kvm") && getuid() == 0))
struct CLIJailTests {
    private func field(_ status: String, _ name: String) -> String {
        status.split(separator: "\n").first { $0.hasPrefix(name + ":") }
            .map { $0.dropFirst(name.count + 1).trimmingCharacters(in: .whitespaces) } ?? ""
    }

    @Test func amberVMMRunsUnprivilegedInAnEmptyRoot() throws {
        let home = try CLIHome()
        defer {
            for name in ["j1", "j2"] { _ = try? home.amber(["stop", name, "--timeout", "5"]) }
            home.remove()
        }
        try home.startCounter("j1")
        try home.startCounter("j2")
        let one = try ControlClient(AmberHome(explicit: home.root.path).vm("j1")).status().pid
        let two = try ControlClient(AmberHome(explicit: home.root.path).vm("j2")).status().pid
        let status = try String(contentsOfFile: "/proc/\(one)/status", encoding: .utf8)
        let uids = field(status, "Uid").split(whereSeparator: \.isWhitespace)
        #expect(uids.count == 4 && !uids.contains("0"), "real, effective, saved and fs uid are not root: \(uids)")
        #expect(!field(status, "Gid").split(whereSeparator: \.isWhitespace).contains("0"))
        #expect(field(status, "CapEff") == "0000000000000000" && field(status, "CapPrm") == "0000000000000000")
        #expect(field(status, "NoNewPrivs") == "1")
        #expect(field(status, "Groups").isEmpty)
        // None of the caller's environment (the test runner's is large), and only stdin, stdout, stderr and
        // what it opened itself.
        let environment = try String(contentsOfFile: "/proc/\(one)/environ", encoding: .utf8)
        #expect(environment.split(separator: "\0").map(String.init) == ProcessSpawner.cleanEnvironment, "\(environment)")
        let otherUID = field(try String(contentsOfFile: "/proc/\(two)/status", encoding: .utf8), "Uid")
        #expect(otherUID != field(status, "Uid"), "each VM has a uid of its own")

        // Every thread runs under the process's seccomp filter; vCPU threads under one more of their own.
        let tasks = try FileManager.default.contentsOfDirectory(atPath: "/proc/\(one)/task")
        // (A control connection's thread may end between the listing and the read: skip it.)
        let filters = tasks.compactMap { task -> Int? in
            guard let taskStatus = try? String(contentsOfFile: "/proc/\(one)/task/\(task)/status", encoding: .utf8) else { return nil }
            #expect(field(taskStatus, "Seccomp") == "2" && field(taskStatus, "NoNewPrivs") == "1", "thread \(task)")
            return Int(field(taskStatus, "Seccomp_filters")) ?? 0
        }
        #expect(filters.allSatisfy { $0 >= 1 } && filters.contains(2), "filters per thread: \(filters)")

        // Its root is the VM's empty jail directory: no host /etc, no other VM's directory.
        let root = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(one)/root")
        #expect(root == AmberHome(explicit: home.root.path).vm("j1").url.appendingPathComponent("jail").path)
        #expect(try FileManager.default.contentsOfDirectory(atPath: "/proc/\(one)/root/").isEmpty)
        #expect(!FileManager.default.fileExists(atPath: "/proc/\(one)/root/etc/passwd"))

        // The VM still works as before: snapshot, and the socket goes when it stops.
        #expect(try home.amber(["snapshot", "j1"], timeout: 120).status == 0)
        #expect(try home.amber(["stop", "j1"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: AmberHome(explicit: home.root.path).vm("j1").controlSocket.path))
    }

    /// The socket's mode is not the only lock: with the VM's directories opened to everyone and the socket
    /// made 0777, another user's `stop` is refused (SO_PEERCRED) and the VM keeps running.
    @Test func anotherUsersRequestIsRefusedWhateverTheSocketsMode() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "p1", "--timeout", "5"])
            home.remove()
        }
        try home.startCounter("p1")
        let vm = AmberHome(explicit: home.root.path).vm("p1")
        var directory = vm.url
        while directory.path.hasPrefix(home.root.path) {
            #expect(chmod(directory.path, 0o711) == 0)
            directory.deleteLastPathComponent()
        }
        #expect(chmod(vm.controlSocket.path, 0o777) == 0)

        // uid and gid 65534 (nobody), no groups: sends one `stop` request and prints the answer (amber-vmm refuses
        // a stranger as soon as it accepts the connection, so the request may find the socket closed).
        let client = Process()
        client.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        client.arguments = [
            "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
            """
            import socket, sys
            s = socket.socket(socket.AF_UNIX)
            s.settimeout(30)
            s.connect(sys.argv[1])
            try:
                s.sendall(b'{"op":"stop"}\\n')
            except BrokenPipeError:
                pass  # refused before it was read: the answer is waiting
            print(s.makefile().readline(), end="")
            """, vm.controlSocket.path,
        ]
        let output = Pipe()
        let errors = Pipe()
        client.standardOutput = output
        client.standardError = errors
        try client.run()
        let answer = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let problems = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        client.waitUntilExit()
        #expect(client.terminationStatus == 0, "\(problems)")
        #expect(answer.contains("refused: only the user who started this VM may control it"), "\(answer)")
        #expect(try ControlClient(vm).status().state == .running)
    }
}
