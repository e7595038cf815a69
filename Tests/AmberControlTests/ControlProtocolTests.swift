import AmberControl
import Foundation
import Testing

/// Every request and reply survives its line's round trip; a line of another protocol version, or one
/// that is not a message, is refused with one line saying which.
@Suite("Control protocol")
struct ControlProtocolTests {
    static let status = VMStatus(
        name: "web1", pid: 4242, state: .running, vcpus: 2, memoryBytes: 256 << 20,
        uptimeSeconds: 12.5, memoryAddress: 0x7f00_0000_0000)
    static let capture = SnapshotCapture(
        memoryBytes: 256 << 20, machineState: Data((0..<300).map { UInt8($0 % 256) }), wasPaused: false,
        disks: [
            DiskCapture(
                basePath: "/images/base.img", overlayPath: "/vms/web1/disk0.overlay", baseline: "s-1",
                changedChunks: [0, 7], chunkSize: 65536)
        ],
        parent: "s-1",
        memory: HeldMemory(
            path: "/proc/4243/mem", address: 0x7f00_0000_0000,
            untouched: UntouchedPages(pagemapPath: "/proc/4243/pagemap", backing: "s-0"),
            changes: MemoryChanges(baseline: "s-1", pages: [PageRun(first: 3, count: 2)])))

    static let requests: [ControlRequest] = [
        .status, .pause, .resume, .stop, .console, .snapshotBegin(memory: true), .snapshotBegin(memory: false),
        .snapshotRelease, .snapshotEnd, .snapshotCommitted(id: "0193a5c2-7f0e-7a4b-9c1d-2e3f4a5b6c7d"),
    ]
    static let replies: [ControlReply] = [
        .status(status), .snapshotBegun(capture),
        .snapshotBegun(SnapshotCapture(memoryBytes: 64 << 20, machineState: Data([1]), wasPaused: true, disks: [])),
        .snapshotReleased(pauseMicroseconds: 1830), .snapshotEnded(pauseMicroseconds: 2400), .snapshotCommitted,
        .refused(ControlRefusal(.snapshotInProgress, "a snapshot of VM web1 is already being taken: wait for it to finish")),
        .refused(ControlRefusal(.failed, "KVM_RUN: Bad address", cause: ControlRefusal.Cause(call: "KVM_RUN", errno: 14))),
    ]

    @Test(arguments: requests) func requestRoundTrips(_ request: ControlRequest) throws {
        let line = try ControlProtocol.line(request)
        #expect(line.last == UInt8(ascii: "\n") && !line.dropLast().contains(UInt8(ascii: "\n")))
        #expect(try ControlProtocol.decode(ControlRequest.self, from: line.dropLast()) == request)
    }

    @Test(arguments: replies) func replyRoundTrips(_ reply: ControlReply) throws {
        let line = try ControlProtocol.line(reply)
        #expect(!line.dropLast().contains(UInt8(ascii: "\n")))
        #expect(try ControlProtocol.decode(ControlReply.self, from: line.dropLast()) == reply)
    }

    @Test func theWireFormatNamesTheOperationAndTheVersion() throws {
        let line = String(decoding: try ControlProtocol.line(ControlRequest.snapshotBegin(memory: false)), as: UTF8.self)
        #expect(line == #"{"memory":false,"op":"snapshotBegin","v":2}"# + "\n")
        let refusal = String(decoding: try ControlProtocol.line(ControlReply.refused(ControlRefusal(.badRequest, "no"))), as: UTF8.self)
        #expect(refusal == #"{"refusal":{"code":"badRequest","message":"no"},"reply":"refused","v":2}"# + "\n")
    }

    /// Version 1 (no "v", `{"ok":...}` replies) is what an amber-vmm of an older build speaks.
    @Test func anotherVersionIsRefusedSayingSo() {
        for line in [#"{"op":"status"}"#, #"{"op":"status","v":3}"#] {
            #expect(throws: ControlProtocolError.versionMismatch(received: line.contains("3") ? 3 : 1)) {
                try ControlProtocol.decode(ControlRequest.self, from: Array(line.utf8))
            }
        }
        #expect(throws: ControlProtocolError.versionMismatch(received: 1)) {
            try ControlProtocol.decode(ControlReply.self, from: Array(#"{"ok":true,"status":{}}"#.utf8))
        }
        let message = ControlProtocolError.versionMismatch(received: 1).description
        #expect(message.contains("different builds") && message.contains("start it again"), "\(message)")
    }

    @Test func malformedMessagesAreRefused() {
        let requests = [
            #"{"op":"explode","v":2}"#, #"{"op":"snapshotBegin","v":2}"#, #"{"op":"snapshotCommitted","v":2}"#,
            #"{"v":2}"#, "not json", #"{"op":"status","v":"2"}"#, "",
        ]
        for line in requests {
            #expect(throws: ControlProtocolError.self, "\(line)") {
                try ControlProtocol.decode(ControlRequest.self, from: Array(line.utf8))
            }
        }
        let replies = [
            #"{"reply":"status","v":2}"#, #"{"reply":"refused","refusal":{"code":"nope","message":"x"},"v":2}"#,
            #"{"reply":"snapshotEnded","v":2}"#, #"{"reply":"whatever","v":2}"#,
        ]
        for line in replies {
            #expect(throws: ControlProtocolError.self, "\(line)") { try ControlProtocol.decode(ControlReply.self, from: Array(line.utf8)) }
        }
        let description = ControlProtocolError.malformed("ControlRequest").description
        #expect(!description.contains("\n"))
    }

    @Test func refusalCodesSayWhetherToRetry() {
        let transient = ControlRefusal.Code.allCases.filter { ControlRefusal($0, "").isTransient }
        #expect(Set(transient) == [.snapshotInProgress, .rollbackInProgress, .pausedForSnapshot, .tooManyConnections, .snapshotAbandoned])
    }

    @Test func snapshotStepsGoInOneOrder() {
        #expect(SnapshotStep.release.follows(.begin) && SnapshotStep.end.follows(.begin) && SnapshotStep.end.follows(.release))
        #expect(SnapshotStep.committed.follows(.end))
        #expect(!SnapshotStep.committed.follows(.release) && !SnapshotStep.release.follows(.end) && !SnapshotStep.begin.follows(.begin))
        #expect(!SnapshotStep.release.follows(.release) && !SnapshotStep.end.follows(.end))
    }
}
