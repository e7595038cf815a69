import AmberControl
import AmberSystem
import AmberTestSupport
import Foundation
import Testing
@testable import AmberVMM

/// A control-socket client speaking ControlProtocol, as the `amber` CLI does.
struct ControlClient {
    let socket: FileDescriptor
    let reader: LineReader

    init(path: String) throws {
        socket = try UnixSocket.connect(path: path)
        reader = LineReader(socket)
    }

    func send(_ request: ControlRequest) throws -> ControlReply {
        try socket.writeAll(try ControlProtocol.line(request))
        return try ControlProtocol.decode(ControlReply.self, from: try #require(try reader.readLine()))
    }

    static func request(_ request: ControlRequest, path: String) throws -> ControlReply {
        try ControlClient(path: path).send(request)
    }
}

extension ControlReply {
    /// The VM's status, when this is a status reply.
    var status: VMStatus? {
        if case .status(let status) = self { return status }
        return nil
    }

    /// The refusal, when this is one.
    var refusal: ControlRefusal? {
        if case .refused(let refusal) = self { return refusal }
        return nil
    }
}

/// Runs a host's `run()` on its own thread and hands back how it ended.
final class RunningHost: @unchecked Sendable {
    let host: VMMHost
    private let lock = ConditionLock()
    private var result: Result<MachineExit, Error>?
    private var thread: NativeThread?

    init(_ host: VMMHost) throws {
        self.host = host
        thread = try NativeThread(name: "host") { [self] in
            let outcome = Result { try host.run() }
            lock.withLock {
                result = outcome; lock.broadcast()
            }
        }
    }

    func waitForExit(seconds: Double = 20) throws -> MachineExit {
        let ended = lock.withLock { lock.wait(until: { result != nil }, timeout: seconds) }
        guard ended else {
            host.requestStop()
            thread?.join()
            throw MachineError("VM did not stop within \(seconds) s")
        }
        thread?.join()
        return try lock.withLock { try result!.get() }
    }

    func waitForSocket(_ path: String) {
        _ = eventually(within: 30) { FileManager.default.fileExists(atPath: path) }
    }
}

@Suite("VMM host: 64-bit boot path, control socket, console", .enabled(if: kvmPresent), .serialized)
struct HostTests {
    @Test func longModeGuestPrintsAndPowersOff() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let configuration = try scratch.configuration(
            entryCode: LongMode.print("64-bit hello\n") + LongMode.powerOff + LongMode.haltForever)
        let log = try FileDescriptor.open(configuration.consoleLogPath!, O_WRONLY | O_CREAT | O_APPEND)
        let host = try VMMHost(configuration: configuration, consoleOutput: log)
        let exit = try host.run()
        #expect(exit == .poweredOff)
        #expect(exit.description == "guest powered off" && exit.exitStatus == 0)
        #expect(try String(contentsOfFile: configuration.consoleLogPath!, encoding: .utf8) == "64-bit hello\n")
        #expect(!FileManager.default.fileExists(atPath: configuration.controlSocketPath))
    }

    @Test func acpiResetRebootsAndEndsTheVMM() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let host = try VMMHost(
            configuration: try scratch.configuration(entryCode: LongMode.reset + LongMode.haltForever), consoleOutput: nil)
        let exit = try host.run()
        #expect(exit == .rebooted && exit.description == "guest rebooted" && exit.exitStatus == 0)
    }

    @Test func tripleFaultInLongModeIsACrashWithAReason() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        // int3 with the boot IDT (limit 7, no gates): #GP, then #DF, then shutdown.
        let host = try VMMHost(configuration: try scratch.configuration(entryCode: [0xCC] + LongMode.haltForever), consoleOutput: nil)
        let exit = try host.run()
        // Hardware KVM reports the triple fault as KVM_EXIT_SHUTDOWN; PVM gives up on the exception
        // delivery earlier, with an internal error. Either way the VM stops with the reason.
        let expected: [MachineExit] = [
            .crashed(reason: "vCPU 0 triple-faulted (KVM_EXIT_SHUTDOWN)"),
            .crashed(reason: "vCPU 0 hit a KVM internal error (KVM_EXIT_INTERNAL_ERROR, suberror 1: instruction emulation failed)"),
        ]
        #expect(expected.contains(exit))
        #expect(exit.exitStatus == 1)
    }

    @Test func controlSocketPausesResumesAndStops() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let configuration = try scratch.configuration(entryCode: LongMode.countForever, vcpus: 2)
        let running = try RunningHost(try VMMHost(configuration: configuration, consoleOutput: nil))
        let socket = configuration.controlSocketPath
        running.waitForSocket(socket)
        var info = stat()
        #expect(stat(socket, &info) == 0 && info.st_mode & 0o777 == 0o600)

        let status = try ControlClient.request(.status, path: socket)
        #expect(status.status?.name == "test" && status.status?.vcpus == 2)
        #expect(status.status?.pid == getpid() && status.status?.memoryBytes == 64 << 20)
        let memory = running.host.machine.memory
        #expect(eventually(within: 30) { (memory.read(UInt64.self, at: 0x3000) ?? 0) > 0 }, "the guest counts")

        let paused = try ControlClient.request(.pause, path: socket)
        #expect(paused.status?.state == .paused)
        let whilePaused = memory.read(UInt64.self, at: 0x3000)
        #expect((whilePaused ?? 0) > 0)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(memory.read(UInt64.self, at: 0x3000) == whilePaused)
        let again = try ControlClient.request(.pause, path: socket)
        #expect(again.refusal == ControlRefusal(.failed, "VM test is paused, not running: nothing to pause"))

        let resumed = try ControlClient.request(.resume, path: socket)
        #expect(resumed.status?.state == .running)
        #expect(eventually(within: 30) { (memory.read(UInt64.self, at: 0x3000) ?? 0) > (whilePaused ?? 0) }, "the guest counts on")

        #expect(try ControlClient.request(.stop, path: socket).status != nil)
        #expect(try running.waitForExit() == .stopped)
        #expect(!FileManager.default.fileExists(atPath: socket))
    }

    @Test func badRequestGetsAnErrorLine() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let configuration = try scratch.configuration(entryCode: LongMode.countForever)
        let running = try RunningHost(try VMMHost(configuration: configuration, consoleOutput: nil))
        running.waitForSocket(configuration.controlSocketPath)
        let client = try ControlClient(path: configuration.controlSocketPath)
        try client.socket.writeAll(Array("{\"op\":\"explode\",\"v\":2}\n".utf8))
        let reply = try ControlProtocol.decode(ControlReply.self, from: try #require(try client.reader.readLine()))
        #expect(reply.refusal?.code == .badRequest && reply.refusal?.message.hasPrefix("bad control request") == true)
        running.host.requestStop()
        #expect(try running.waitForExit() == .stopped)
    }

    @Test func consoleCarriesBytesBothWays() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let configuration = try scratch.configuration(entryCode: LongMode.echoSerial)
        let running = try RunningHost(try VMMHost(configuration: configuration, consoleOutput: nil))
        running.waitForSocket(configuration.controlSocketPath)
        let client = try ControlClient(path: configuration.controlSocketPath)
        #expect(try client.send(.console).status != nil)
        try client.socket.writeAll(Array("ping".utf8))
        var received: [UInt8] = client.reader.takeBuffered()
        var buffer = [UInt8](repeating: 0, count: 64)
        while received.count < 4 {
            let count = try buffer.withUnsafeMutableBytes { try client.socket.readSome(into: $0) }
            if count == 0 { break }
            received += buffer[..<count]
        }
        #expect(received == Array("ping".utf8))
        running.host.requestStop()
        #expect(try running.waitForExit() == .stopped)
    }

    @Test func disksAppearAsVirtioMMIODevices() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        _ = FileManager.default.createFile(atPath: scratch.path("disk.img"), contents: Data(count: 1 << 20))
        let configuration = try scratch.configuration(
            entryCode: LongMode.powerOff,
            disks: [DiskConfiguration(path: scratch.path("disk.img"), readOnly: true)])
        let host = try VMMHost(configuration: configuration, consoleOutput: nil)
        var magic: UInt32 = 0, deviceID: UInt32 = 0, capacity: UInt64 = 0
        withUnsafeMutableBytes(of: &magic) { host.machine.mmio.read(0xD000_0000, into: $0) }
        withUnsafeMutableBytes(of: &deviceID) { host.machine.mmio.read(0xD000_0008, into: $0) }
        withUnsafeMutableBytes(of: &capacity) { host.machine.mmio.read(0xD000_0100, into: $0) }
        #expect(magic == 0x7472_6976 && deviceID == 2 && capacity == 2048)
        #expect(try host.run() == .poweredOff)
    }

    @Test func memoryAbove3GiBContinuesAt4GiB() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        // mov rax, 0x1_0000_0000; mov qword [rax], 0x1234; then power off.
        let code: [UInt8] = [
            0x48, 0xB8, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
            0x48, 0xC7, 0x00, 0x34, 0x12, 0x00, 0x00,
        ]
        var configuration = try scratch.configuration(entryCode: code + LongMode.powerOff + LongMode.haltForever)
        configuration.memoryBytes = (3 << 30) + (64 << 20)
        let host = try VMMHost(configuration: configuration, consoleOutput: nil)
        let memory = host.machine.memory
        #expect(
            memory.regions == [
                GuestRAM.Region(guestAddress: 0, size: 3 << 30, fileOffset: 0),
                GuestRAM.Region(guestAddress: 4 << 30, size: 64 << 20, fileOffset: 3 << 30),
            ])
        #expect(memory.pointer(guestAddress: (3 << 30) + 4096, count: 8) == nil)
        #expect(memory.pointer(guestAddress: (4 << 30) + (64 << 20) - 4, count: 8) == nil)
        #expect(try host.run() == .poweredOff)
        #expect(memory.read(UInt64.self, at: 4 << 30) == 0x1234)
        // The region at 4 GiB continues the mapping right after the first 3 GiB.
        #expect(memory.mapping.pointer(at: 3 << 30, count: 8)?.loadUnaligned(as: UInt64.self) == 0x1234)
    }

    @Test func notABzImageIsAConfigurationError() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var configuration = try scratch.configuration(entryCode: LongMode.powerOff)
        _ = FileManager.default.createFile(atPath: scratch.path("junk"), contents: Data(repeating: 7, count: 4096))
        configuration.kernelPath = scratch.path("junk")
        #expect(throws: ConfigurationError.self) { try VMMHost(configuration: configuration, consoleOutput: nil) }
    }
}
