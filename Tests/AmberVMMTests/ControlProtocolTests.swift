import AmberVMM
import Foundation
import Testing

/// The snapshot fields joined the control protocol later: messages written before them still decode,
/// and a snapshot answer survives the JSON round trip with its machine state bytes intact.
@Suite("Control protocol compatibility")
struct ControlProtocolTests {
    @Test func messagesWithoutSnapshotFieldsDecode() throws {
        let request = try JSONDecoder().decode(ControlRequest.self, from: Data(#"{"op":"pause"}"#.utf8))
        #expect(request.op == .pause)
        let response = try JSONDecoder().decode(ControlResponse.self, from: Data(#"{"ok":false,"error":"no"}"#.utf8))
        #expect(response == ControlResponse(ok: false, error: "no"))
        #expect(response.capture == nil && response.pauseMicroseconds == nil)
    }

    @Test func snapshotCaptureRoundTrips() throws {
        let capture = SnapshotCapture(memoryPath: "/proc/1/fd/7", memoryBytes: 64 << 20,
                                      machineState: Data((0..<300).map { UInt8($0 % 256) }), wasPaused: false)
        let sent = ControlResponse(ok: true, capture: capture, pauseMicroseconds: 1234)
        let received = try JSONDecoder().decode(ControlResponse.self, from: JSONEncoder().encode(sent))
        #expect(received == sent)
        let begin = try JSONDecoder().decode(ControlRequest.self, from: Data(#"{"op":"snapshotBegin"}"#.utf8))
        #expect(begin.op == .snapshotBegin)
    }
}
