import AmberControl
@testable import AmberCore
import AmberTestSupport
import Foundation
import Glibc
import Testing

/// Refusals that cross the control socket carry a stable code, through the real amber-vmm: a caller
/// (amberd, the CLI) tells "busy, retry" from a refusal that will not change.
@Suite("Control refusal codes", .serialized, .enabled(if: FileManager.default.fileExists(atPath: "/dev/kvm")))
struct CLIControlRefusalTests {
    @Test func aSecondSnapshotWhileOneHoldsTheVMIsRefusedAsBusyThenSucceeds() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "rc", "--timeout", "5"])
            home.remove()
        }
        try home.startCounter("rc")
        let client = ControlClient(AmberHome(explicit: home.root.path).vm("rc"))
        let first = try client.beginSnapshot(memory: true)
        #expect(first.capture.memory != nil && !first.capture.wasPaused)

        let second = #expect(throws: VMLifecycleError.self) { try client.beginSnapshot(memory: false) }
        #expect(second?.refusal?.code == .snapshotInProgress && second?.refusal?.isTransient == true, "\(String(describing: second))")
        #expect(second?.description.contains("is already being taken") == true, "\(String(describing: second))")
        let resume = #expect(throws: VMLifecycleError.self) { try client.send(.resume) }
        #expect(resume?.refusal?.code == .pausedForSnapshot && resume?.refusal?.isTransient == true)

        try first.release()
        #expect(first.pauseMicroseconds > 0)
        try first.end()
        first.close()
        // amber-vmm ends the first snapshot's turn once it sees the connection close.
        let deadline = Date().addingTimeInterval(30)
        var again: SnapshotHold?
        while again == nil, Date() < deadline {
            do {
                again = try client.beginSnapshot(memory: false)
            } catch let error as VMLifecycleError where error.refusal?.code == .snapshotInProgress {
                usleep(20_000)
            }
        }
        let hold = try #require(again)
        #expect(hold.capture.memory == nil)
        try hold.end()
        hold.close()
    }

    @Test func aFatalRefusalSaysItWillNotChange() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "rf", "--timeout", "5"])
            home.remove()
        }
        try home.startCounter("rf")
        let client = ControlClient(AmberHome(explicit: home.root.path).vm("rf"))
        try client.send(.pause)
        let again = #expect(throws: VMLifecycleError.self) { try client.send(.pause) }
        #expect(again?.refusal?.code == .failed && again?.refusal?.isTransient == false, "\(String(describing: again))")
        #expect(again?.description == "VM rf refused pause: VM rf is paused, not running: nothing to pause")
        let step = #expect(throws: VMLifecycleError.self) { try client.send(.snapshotEnd) }
        #expect(step?.refusal?.code == .outOfOrder)
        try client.send(.resume)
        #expect(try client.status().state == .running)
    }

    /// An amber of another build (control protocol version 1: no "v") is told so, in one line.
    @Test func aRequestOfAnotherProtocolVersionIsRefusedSayingSo() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "rv", "--timeout", "5"])
            home.remove()
        }
        try home.startCounter("rv")
        let connection = try UnixSocketConnection(
            connectingTo: AmberHome(explicit: home.root.path).vm("rv").controlSocket.path, timeout: 10)
        defer { connection.close() }
        try connection.writeAll(Array(#"{"op":"status"}"#.utf8) + [UInt8(ascii: "\n")])
        let line = try #require(try connection.readLine())
        let reply = try ControlProtocol.decode(ControlReply.self, from: Array(line.utf8))
        guard case .refused(let refusal) = reply else {
            Issue.record("answered \(line)")
            return
        }
        #expect(refusal.code == .versionMismatch && refusal.message.contains("different builds"), "\(refusal.message)")
    }
}
