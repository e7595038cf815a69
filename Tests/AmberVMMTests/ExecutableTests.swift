import AmberControl
import AmberSystem
import AmberTestSupport
import Foundation
import Testing
@testable import AmberVMM

let vmmBinary = BuiltProducts.amberVMM.path

struct Outcome {
    let status: Int32
    let stderr: String
}

func runVMM(_ arguments: [String], whileRunning: ((Process) throws -> Void)? = nil) throws -> Outcome {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: vmmBinary)
    process.arguments = arguments
    let errors = Pipe()
    process.standardError = errors
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    try whileRunning?(process)
    let data = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return Outcome(status: process.terminationStatus, stderr: String(decoding: data, as: UTF8.self))
}

@Suite(
    "amber-vmm executable: exit codes, lock, lifecycle lines",
    .enabled(if: kvmPresent && FileManager.default.isExecutableFile(atPath: vmmBinary)), .serialized)
struct ExecutableTests {
    @Test func badConfigurationExitsTwoWithOneLine() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let file = scratch.path("config.json")
        _ = FileManager.default.createFile(atPath: file, contents: Data("{".utf8))
        let outcome = try runVMM(["--config", file])
        #expect(outcome.status == 2)
        #expect(outcome.stderr == "amber-vmm: invalid VM configuration \(file): not valid JSON\n")
    }

    @Test func missingKernelExitsTwo() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        var configuration = try scratch.configuration(entryCode: LongMode.powerOff)
        configuration.kernelPath = scratch.path("missing")
        let outcome = try runVMM(["--config", try scratch.writeConfiguration(configuration)])
        #expect(outcome.status == 2)
        #expect(outcome.stderr == "amber-vmm: kernel \(scratch.path("missing")) does not exist: check the path\n")
    }

    @Test func aVMThatIsAlreadyRunningIsRefused() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let file = try scratch.writeConfiguration(try scratch.configuration(entryCode: LongMode.powerOff))
        let held = try FileLock(exclusive: file)
        let outcome = try runVMM(["--config", file])
        withExtendedLifetime(held) {}
        #expect(outcome.status == 2)
        #expect(outcome.stderr == "amber-vmm: VM test is already running\n")
    }

    @Test func poweroffExitsZeroAndSaysSo() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let configuration = try scratch.configuration(entryCode: LongMode.print("bye\n") + LongMode.powerOff + LongMode.haltForever)
        let outcome = try runVMM(["--config", try scratch.writeConfiguration(configuration)])
        #expect(outcome.status == 0)
        #expect(outcome.stderr.hasSuffix("amber-vmm: VM test: guest powered off\n"))
        #expect(try String(contentsOfFile: configuration.consoleLogPath!, encoding: .utf8) == "bye\n")
        #expect(Self.controlSocketGoneUnlessConfined(configuration))
    }

    @Test func crashExitsOneWithTheReason() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let configuration = try scratch.configuration(entryCode: [0xCC] + LongMode.haltForever)
        let outcome = try runVMM(["--config", try scratch.writeConfiguration(configuration)])
        #expect(outcome.status == 1)
        #expect(outcome.stderr.contains("amber-vmm: VM test: guest crashed: vCPU 0 "))
    }

    @Test func sigtermStopsTheVMCleanly() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let configuration = try scratch.configuration(entryCode: LongMode.countForever)
        let outcome = try runVMM(["--config", try scratch.writeConfiguration(configuration)]) { process in
            _ = eventually(within: 30) { FileManager.default.fileExists(atPath: configuration.controlSocketPath) }
            let status = try ControlClient.request(.status, path: configuration.controlSocketPath)
            #expect(status.status?.state == .running)
            process.terminate()
        }
        #expect(outcome.status == 0)
        #expect(outcome.stderr.hasSuffix("amber-vmm: VM test: stopped on request\n"))
        #expect(Self.controlSocketGoneUnlessConfined(configuration))
    }

    /// A thread that makes a system call its seccomp filter forbids ends amber-vmm with a logged reason:
    /// `--seccomp-self-test` has vCPU 0 call mount(2) just before its first KVM_RUN.
    @Test func aForbiddenSystemCallStopsTheVMWithItsReason() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let configuration = try scratch.configuration(entryCode: LongMode.countForever)
        let outcome = try runVMM(["--config", try scratch.writeConfiguration(configuration), "--seccomp-self-test"])
        #expect(outcome.status == 1)
        // 165: mount(2) on x86-64.
        #expect(outcome.stderr.contains("made system call 165, which its seccomp filter forbids; the VM stops\n"), "\(outcome.stderr)")
        #expect(outcome.stderr.contains("seccomp filters on every thread and a narrower one on vCPU threads"))
    }

    /// A control thread may read a paused VM's state from KVM but not build or change a VM: an ioctl outside
    /// the process's list ends amber-vmm and the log names the request.
    @Test func aForbiddenIoctlStopsTheVMWithItsRequest() throws {
        let scratch = try Scratch()
        defer { scratch.remove() }
        let configuration = try scratch.configuration(entryCode: LongMode.countForever)
        let outcome = try runVMM(["--config", try scratch.writeConfiguration(configuration), "--seccomp-self-test-ioctl"])
        #expect(outcome.status == 1)
        // 16: ioctl(2) on x86-64; 0xae01: KVM_CREATE_VM.
        #expect(
            outcome.stderr.contains("made system call 16 (ioctl request 0xae01), which its seccomp filter forbids; the VM stops\n"),
            "\(outcome.stderr)")
    }

    /// Nobody answers on the socket any more. Started by root, amber-vmm confines itself to an empty root and
    /// cannot reach the socket's directory to remove it (`amber` does): the file stays, refusing connections;
    /// started by another user it removes the socket itself.
    static func controlSocketGoneUnlessConfined(_ configuration: VMConfiguration) -> Bool {
        guard FileManager.default.fileExists(atPath: configuration.controlSocketPath) else { return true }
        guard getuid() == 0 else { return false }
        do {
            _ = try UnixSocket.connect(path: configuration.controlSocketPath)
            return false
        } catch let error as SystemError {
            return error.errno == ECONNREFUSED
        } catch {
            return false
        }
    }
}
