import AmberControl
import Foundation
import Testing
@testable import AmberVMM

@Suite("Configuration checks: one clear line per bad input")
struct ConfigurationCheckTests {
    private func checked(_ change: (inout VMConfiguration) -> Void) throws -> String? {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var configuration = try scratch.configuration(entryCode: [0xF4])
        change(&configuration)
        do {
            try ConfigurationCheck.validate(configuration, hostMemoryBytes: 8 << 30)
            return nil
        } catch let error as ConfigurationError {
            return error.description
        }
    }

    @Test func aGoodConfigurationPasses() throws {
        #expect(try checked { _ in } == nil)
    }

    @Test func badValuesAreNamed() throws {
        #expect(try checked { $0.memoryBytes = 0 } == "memory of 0 MiB is too small: give the VM at least 64 MiB")
        #expect(try checked { $0.memoryBytes = 1 << 40 } == "memory of 1024 GiB exceeds this host's 8 GiB: give the VM less")
        #expect(
            try checked { $0.memoryBytes = (64 << 20) + 1 } == "memory of 67108865 bytes is not a whole number of 4 KiB pages: round it")
        #expect(try checked { $0.vcpus = 0 } == "0 vCPUs is out of range: use 1 to 255")
        #expect(try checked { $0.kernelPath = "/nonexistent/bzImage" } == "kernel /nonexistent/bzImage does not exist: check the path")
        #expect(try checked { $0.initrdPath = "/nonexistent/initrd" } == "initrd /nonexistent/initrd does not exist: check the path")
        #expect(
            try checked { $0.disks = [DiskConfiguration(path: "/nonexistent/disk.img", readOnly: false)] }
                == "disk image /nonexistent/disk.img does not exist: check the path")
        #expect(try checked { $0.kernelPath = "/tmp" } == "kernel /tmp is not a regular file")
        let twice = try checked {
            $0.disks = [DiskConfiguration(path: $0.kernelPath, readOnly: true), DiskConfiguration(path: $0.kernelPath, readOnly: true)]
        }
        #expect(twice?.hasPrefix("disk image /tmp/") == true)
        #expect(twice?.hasSuffix("/bzImage is attached twice: attach each image once") == true)
        let longPath = "/" + String(repeating: "s", count: 90)
        #expect(
            try checked { $0.controlSocketPath = longPath }
                == "control socket path \(longPath) is longer than 90 bytes: use a shorter home directory")
    }

    @Test func malformedFilesAreNamed() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let file = scratch.path("config.json")
        _ = FileManager.default.createFile(atPath: file, contents: Data("{\"name\": 3}".utf8))
        #expect(throws: ConfigurationError("invalid VM configuration \(file): field \"name\" has the wrong type")) {
            try ConfigurationCheck.load(path: file)
        }
        _ = FileManager.default.createFile(atPath: file, contents: Data("not json".utf8))
        #expect(throws: ConfigurationError("invalid VM configuration \(file): not valid JSON")) { try ConfigurationCheck.load(path: file) }
        #expect(throws: ConfigurationError("cannot read VM configuration /nonexistent.json: check that it exists and is readable")) {
            try ConfigurationCheck.load(path: "/nonexistent.json")
        }
    }
}

@Suite("Host checks")
struct HostCheckTests {
    @Test func pvmIsRecognisedByItsModuleDirectory() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        #expect(HostChecks.pvmWarning(moduleDirectory: scratch.path("absent")) == nil)
        #expect(HostChecks.pvmWarning(moduleDirectory: scratch.directory)?.contains("PVM") == true)
    }
}
