import AmberCore
import AmberTestSupport
import Foundation
import Glibc
import Testing

/// Every bad input to `amber run` ends with one error line and a non-zero exit, before anything is
/// written under the home or started.
@Suite("amber run refuses bad input")
struct CLIRunValidationTests {
    /// Runs `amber run NAME ARGS` with otherwise valid inputs and checks the failure.
    private func expectRefusal(
        _ arguments: [String], name: String = "vm1", mentioning expected: [String],
        home: CLIHome
    ) throws {
        let result = try home.amber(["run", name] + arguments)
        #expect(result.status != 0)
        #expect(result.stdout.isEmpty)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1, "expected one error line, got: \(result.stderr)")
        for text in expected {
            #expect(result.errorLine.contains(text), "\(result.errorLine) should mention \(text)")
        }
        #expect(home.contents().isEmpty, "nothing may be written: \(home.contents())")
    }

    private func withHome(_ body: (CLIHome, [String]) throws -> Void) throws {
        let home = try CLIHome()
        defer { home.remove() }
        let kernel = try home.fakeBzImage()
        let initrd = try home.file("initrd", [1, 2, 3])
        let disk = try home.file("disk.img", [UInt8](repeating: 0, count: 4096))
        try body(home, ["--kernel", kernel, "--initrd", initrd, "--disk", disk, "--memory", "128M", "--vcpus", "1"])
    }

    private func replacing(_ arguments: [String], _ option: String, with value: String) -> [String] {
        var copy = arguments
        copy[copy.firstIndex(of: option)! + 1] = value
        return copy
    }

    @Test func missingKernel() throws {
        try withHome { home, valid in
            let path = home.scratch.appendingPathComponent("no-such-kernel").path
            try expectRefusal(replacing(valid, "--kernel", with: path), mentioning: ["kernel", path, "does not exist"], home: home)
        }
    }

    @Test func kernelThatIsNotABzImage() throws {
        try withHome { home, valid in
            let elf = try home.file("vmlinux", [0x7F, 0x45, 0x4C, 0x46] + [UInt8](repeating: 0, count: 1024))
            try expectRefusal(replacing(valid, "--kernel", with: elf), mentioning: ["not a bzImage", elf], home: home)
            let tiny = try home.file("tiny", [0x48])
            try expectRefusal(replacing(valid, "--kernel", with: tiny), mentioning: ["not a bzImage"], home: home)
        }
    }

    @Test func missingInitrd() throws {
        try withHome { home, valid in
            try expectRefusal(
                replacing(valid, "--initrd", with: "/nonexistent/initrd.img"),
                mentioning: ["initrd /nonexistent/initrd.img does not exist"], home: home)
        }
    }

    @Test func missingOrUnusableDisk() throws {
        try withHome { home, valid in
            try expectRefusal(
                replacing(valid, "--disk", with: "/nonexistent/disk.img:ro"),
                mentioning: ["disk /nonexistent/disk.img does not exist"], home: home)
            try expectRefusal(
                replacing(valid, "--disk", with: home.scratch.path),
                mentioning: ["disk", "not a regular file"], home: home)
            try expectRefusal(valid + ["--disk", "/nonexistent/second.img"], mentioning: ["second.img"], home: home)
        }
    }

    @Test(.enabled(if: getuid() != 0, "root may open any file"))
    func unreadableDisk() throws {
        try withHome { home, valid in
            let locked = try home.file("locked.img", [0])
            chmod(locked, 0o000)
            try expectRefusal(replacing(valid, "--disk", with: locked + ":ro"), mentioning: ["cannot be opened"], home: home)
            try expectRefusal(replacing(valid, "--disk", with: locked), mentioning: ["cannot be opened"], home: home)
        }
    }

    @Test("memory that is not a size", arguments: ["abc", "12X", "1.5G", "512 M", "M"])
    func memoryNotASize(text: String) throws {
        try withHome { home, valid in
            try expectRefusal(
                replacing(valid, "--memory", with: text),
                mentioning: ["--memory '\(text)' is not a size", "512M", "1G", "1024K"], home: home)
        }
    }

    @Test("memory too small", arguments: ["0", "32M", "65535K"])
    func memoryTooSmall(text: String) throws {
        try withHome { home, valid in
            try expectRefusal(
                replacing(valid, "--memory", with: text), mentioning: ["--memory \(text) is too small", "at least 64 MiB"], home: home)
        }
    }

    @Test func memoryMoreThanTheHostHas() throws {
        try withHome { home, valid in
            try expectRefusal(replacing(valid, "--memory", with: "64T"), mentioning: ["more than this host's RAM"], home: home)
        }
    }

    @Test func memoryNotWholePages() throws {
        try withHome { home, valid in
            try expectRefusal(replacing(valid, "--memory", with: "100000001"), mentioning: ["4 KiB pages"], home: home)
        }
    }

    @Test("vCPU counts out of range", arguments: ["0", "256", "100000"])
    func vcpusOutOfRange(count: String) throws {
        try withHome { home, valid in
            try expectRefusal(replacing(valid, "--vcpus", with: count), mentioning: ["--vcpus \(count)", "1 to 255"], home: home)
        }
    }

    @Test("invalid names", arguments: ["a/b", "..", ".hidden", "web 1", String(repeating: "n", count: 65)])
    func invalidName(name: String) throws {
        try withHome { home, valid in
            try expectRefusal(valid, name: name, mentioning: ["invalid VM name"], home: home)
        }
    }

    @Test func socketPathTooLong() throws {
        let home = try CLIHome()
        defer { home.remove() }
        let kernel = try home.fakeBzImage()
        let longHome = home.root.appendingPathComponent(String(repeating: "h", count: 90)).path
        let result = try runProcess(BuiltProducts.amber, ["run", "vm1", "--kernel", kernel, "--home", longHome])
        #expect(result.status != 0)
        #expect(result.errorLine.contains("control socket path"))
        #expect(!FileManager.default.fileExists(atPath: longHome))
    }

    /// A name the name rules allow but whose socket path amber-vmm would refuse is refused by `amber run`
    /// itself, before the VM's directory is written.
    @Test func socketPathOverAmberVMMsLimitIsRefusedBeforeAnythingIsWritten() throws {
        let home = try CLIHome()
        defer { home.remove() }
        let kernel = try home.fakeBzImage()
        let prefix = home.root.path + "/vms/", suffix = "/control.sock"
        let length = min(VMName.maximumLength, 100 - prefix.utf8.count - suffix.utf8.count)
        try #require(length >= 1, "the test home's path is too long for this test")
        let name = String(repeating: "n", count: length)
        let result = try home.amber(["run", name, "--kernel", kernel])
        #expect(result.status == 64)
        #expect(
            result.errorLine.contains("control socket path") && result.errorLine.contains("longer than 90 bytes"), "\(result.errorLine)")
        #expect(!FileManager.default.fileExists(atPath: prefix + name))
    }
}
