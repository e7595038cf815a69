import AmberKVM
import AmberMachineState
import AmberTestSupport
import Foundation
import Testing
@testable import AmberVMM

/// A state captured from a real paused tiny guest, to encode, damage and decode (and the fuzz seeds', FuzzSeedStates).
func capturedState(vcpus: Int = 1) throws -> MachineState {
    let guest = try TinyGuest(vcpus: vcpus)
    for index in 0..<vcpus {
        try guest.load(RealMode.countForever(at: 0x2000 + UInt16(index) * 4), at: 0x1000 + UInt64(index) * 0x100, vcpu: index)
    }
    try guest.machine.start()
    defer { guest.machine.stop(.stopped); _ = guest.machine.waitForExit() }
    try guest.machine.pause()
    return try guest.machine.captureState()
}

/// Replaces the payload after the header, with a correct length and checksum: damage only the
/// JSON can notice.
private func withPayload(_ payload: [UInt8], header: [UInt8]) -> [UInt8] {
    var bytes = Array(header[0..<16])
    withUnsafeBytes(of: UInt64(payload.count).littleEndian) { bytes += $0 }
    withUnsafeBytes(of: payload.withUnsafeBytes { CRC32.checksum($0) }.littleEndian) { bytes += $0 }
    bytes += [0, 0, 0, 0]
    return bytes + payload
}

@Suite("MachineState encoding: versioned, deterministic, and safe on untrusted bytes", .enabled(if: kvmPresent), .serialized)
struct StateEncodingTests {
    @Test func encodeDecodeEncodeIsByteIdentical() throws {
        let state = try capturedState(vcpus: 2)
        let bytes = try state.encoded()
        let decoded = try MachineState(encoded: bytes)
        #expect(decoded == state)
        #expect(try decoded.encoded() == bytes)
        #expect(Array(bytes[0..<8]) == Array("AMBERMST".utf8))
    }

    @Test func crc32MatchesTheStandardCheckValue() {
        #expect(Array("123456789".utf8).withUnsafeBytes { CRC32.checksum($0) } == 0xCBF4_3926)
    }

    @Test func truncatedStatesAreRefused() throws {
        let bytes = try capturedState().encoded()
        #expect(throws: MachineStateError("machine state is truncated: 0 bytes, shorter than its 32-byte header")) {
            try MachineState(encoded: [])
        }
        #expect(throws: MachineStateError("machine state is truncated: 31 bytes, shorter than its 32-byte header")) {
            try MachineState(encoded: Array(bytes.prefix(31)))
        }
        let payloadBytes = bytes.count - 32
        for cut in [32, bytes.count / 2, bytes.count - 1] {
            #expect(
                throws: MachineStateError(
                    "machine state is truncated or padded: its header promises \(payloadBytes) bytes of state, \(cut - 32) follow")
            ) {
                try MachineState(encoded: Array(bytes.prefix(cut)))
            }
        }
    }

    @Test func aNewerFormatVersionIsRefused() throws {
        var bytes = try capturedState().encoded()
        bytes[8] = UInt8(MachineState.formatVersion + 1)
        #expect(
            throws: MachineStateError(
                "machine state format version \(MachineState.formatVersion + 1) is newer than this Amber understands (up to \(MachineState.formatVersion)): upgrade Amber to restore this snapshot"
            )
        ) {
            try MachineState(encoded: bytes)
        }
    }

    @Test func anotherFileIsRefused() throws {
        var bytes = try capturedState().encoded()
        bytes[0] = UInt8(ascii: "X")
        #expect(
            throws: MachineStateError(
                "not an Amber machine state (its first bytes are not \"AMBERMST\"): the snapshot is corrupt or this is another file")
        ) {
            try MachineState(encoded: bytes)
        }
    }

    @Test func aDamagedByteIsCaughtByTheChecksum() throws {
        var bytes = try capturedState().encoded()
        bytes[bytes.count / 2] ^= 0x20
        let error = #expect(throws: MachineStateError.self) { try MachineState(encoded: bytes) }
        #expect(error?.description.hasPrefix("machine state is corrupt: its checksum is") == true)
    }

    @Test func wellFormedButWrongContentIsRefusedNamingTheField() throws {
        let header = try capturedState().encoded()
        #expect(throws: MachineStateError("machine state is corrupt: field memory missing at the top level")) {
            try MachineState(encoded: withPayload(Array("{}".utf8), header: header))
        }
        #expect(throws: MachineStateError("machine state is corrupt: unreadable value at the top level")) {
            try MachineState(encoded: withPayload(Array("{\"memory\": ".utf8), header: header))
        }
        var state = try capturedState()
        state.vcpus[0].lapic = Data(count: 10)
        #expect(throws: VMStateError("saved vCPU 0 LAPIC is 10 bytes, expected 1024: the state is corrupt or from an incompatible amber")) {
            try MachineState(encoded: try state.encoded())
        }
        state = try capturedState()
        state.memory.regions[0].size = 1 << 50
        #expect(throws: MachineStateError.self) { try MachineState(encoded: try state.encoded()) }
        state = try capturedState()
        state.vcpus[0].msrs = Array(repeating: MSREntry(index: 0x10, value: 0), count: VCPUState.maximumMSRs + 1)
        #expect(throws: VMStateError("saved vCPU 0 has 4097 MSRs, more than 4096: the state is corrupt")) {
            try MachineState(encoded: try state.encoded())
        }
    }

    @Test func randomDamageIsRefusedOrDecodedButNeverCrashes() throws {
        let bytes = try capturedState().encoded()
        var generator = SeededGenerator(seed: 4)
        var refused = 0
        for round in 0..<300 {
            var payload = Array(bytes[32...])
            switch round % 3 {
            case 0:
                payload.removeLast(Int.random(in: 1..<payload.count, using: &generator))
            case 1:
                for _ in 0..<Int.random(in: 1...8, using: &generator) {
                    payload[Int.random(in: 0..<payload.count, using: &generator)] = UInt8.random(in: 0...255, using: &generator)
                }
            default:
                let start = Int.random(in: 0..<payload.count, using: &generator)
                payload.replaceSubrange(start..<min(payload.count, start + 64), with: [UInt8](repeating: UInt8(ascii: "9"), count: 64))
            }
            // Half the time the checksum is made to match, so the JSON decoder and validation see the damage.
            let damaged = round % 2 == 0 ? withPayload(payload, header: bytes) : Array(bytes[0..<32]) + payload
            do {
                _ = try MachineState(encoded: damaged)
            } catch is MachineStateError {
                refused += 1
            } catch is VMStateError {
                refused += 1
            }
        }
        #expect(refused > 250)
    }
}

@Suite("MachineState files", .enabled(if: kvmPresent), .serialized)
struct StateFileTests {
    private let directory = FileManager.default.temporaryDirectory.appendingPathComponent("amber-state-files-\(UUID().uuidString)").path

    @Test func aWrittenStateReadsBackAndLeavesNoTemporaryFile() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let state = try capturedState()
        let path = directory + "/machine.state"
        try state.write(to: path)
        #expect(try MachineState(contentsOf: path) == state)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory) == ["machine.state"])
    }

    @Test func missingAndOversizedFilesAreRefusedClearly() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let missing = directory + "/absent.state"
        let error = #expect(throws: MachineStateError.self) { try MachineState(contentsOf: missing) }
        #expect(error?.description.hasPrefix("cannot open machine state \(missing):") == true)
        let huge = directory + "/huge.state"
        #expect(FileManager.default.createFile(atPath: huge, contents: nil))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: huge))
        try handle.truncate(atOffset: UInt64(MachineState.maximumEncodedBytes + 33))
        try handle.close()
        #expect(
            throws: MachineStateError(
                "\(huge) is \(MachineState.maximumEncodedBytes + 33) bytes, more than the \(MachineState.maximumEncodedBytes) a machine state can be: it is not one"
            )
        ) {
            try MachineState(contentsOf: huge)
        }
    }

    @Test func theShapeReadsAsTheFullStateSaysAndDamageIsCaughtAsInIt() throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let state = try capturedState(vcpus: 2)
        let path = directory + "/machine.state"
        try state.write(to: path)
        let shape = try MachineShape(contentsOf: path)
        #expect(shape == MachineShape(state))
        #expect(shape.vcpuCount == 2)
        #expect(shape.memory.totalBytes == state.memory.totalBytes)

        // One flipped byte in the payload: the shape's read checks the CRC-32 as the full decode does.
        var bytes = try state.encoded()
        bytes[bytes.count / 2] ^= 0x40
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        let error = #expect(throws: MachineStateError.self) { try MachineShape(contentsOf: path) }
        #expect(error?.description.hasPrefix("machine state is corrupt: its checksum is") == true)
    }
}
