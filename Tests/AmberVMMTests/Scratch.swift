import AmberControl
import AmberTestSupport
import Foundation
@testable import AmberVMM

/// A per-test directory with a synthetic kernel and a configuration pointing at it.
struct Scratch {
    let directory: String

    init() throws {
        directory = "/tmp/amber-vmm-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { "\(directory)/\(name)" }

    func configuration(entryCode: [UInt8], vcpus: Int = 1, disks: [DiskConfiguration] = []) throws -> VMConfiguration {
        try TinyBzImage.write(entryCode: entryCode, to: path("bzImage"))
        return VMConfiguration(
            name: "test", kernelPath: path("bzImage"), initrdPath: nil, commandLine: "console=ttyS0",
            memoryBytes: 64 << 20, vcpus: vcpus, disks: disks,
            controlSocketPath: path("control.sock"), consoleLogPath: path("console.log"))
    }

    func writeConfiguration(_ configuration: VMConfiguration) throws -> String {
        let file = path("config.json")
        try JSONEncoder().encode(configuration).write(to: URL(fileURLWithPath: file))
        return file
    }

    func remove() {
        try? FileManager.default.removeItem(atPath: directory)
    }
}
