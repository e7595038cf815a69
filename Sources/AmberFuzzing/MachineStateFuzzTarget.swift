#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import AmberMachineState

/// A `MachineState` file as amber-vmm decodes it on restore (and `amber clone` reads its shape): header,
/// JSON, then `validate()`.
///
/// An input that starts with the magic "AMBERMST" is a whole state file; any other input is taken as
/// the JSON alone and given a correct header (length, CRC-32) first, so the fuzzer spends its time on
/// the JSON and the checks behind it rather than on matching a checksum.
enum MachineStateFuzzTarget {
    static let magic = Array("AMBERMST".utf8)

    static func run(_ bytes: UnsafeRawBufferPointer) throws {
        let file = bytes.starts(with: magic) ? Array(bytes) : framed(Array(bytes))
        let state: MachineState
        do {
            state = try MachineState(encoded: file)
        } catch {
            try requireOneLine(error, from: "the machine state decoder")
            return
        }
        let encoded = try state.encoded()
        let again = try MachineState(encoded: encoded)
        try require(again == state, "a decoded machine state, encoded and decoded again, differs")
        try require(try again.encoded() == encoded, "encoding a machine state is not deterministic")

        let shape = try JSONDecoder().decode(MachineShape.self, from: Data(try MachineState.payload(of: file)))
        try require(
            shape.memory == state.memory && shape.vcpuCount == state.vcpus.count,
            "clone's shape of the state (\(shape.vcpuCount) vCPUs) differs from the state (\(state.vcpus.count))")
        try require(
            state.memory.totalBytes <= GuestMemoryLayoutState.maximumTotalBytes, "memory of \(state.memory.totalBytes) bytes accepted")
    }

    /// `payload` behind a header that matches it, as `MachineState.encoded()` writes one.
    static func framed(_ payload: [UInt8]) -> [UInt8] {
        var file = magic
        func append<T: FixedWidthInteger>(_ value: T) { withUnsafeBytes(of: value.littleEndian) { file += $0 } }
        append(MachineState.formatVersion)
        append(UInt32(0))
        append(UInt64(payload.count))
        append(payload.withUnsafeBytes { CRC32.checksum($0) })
        append(UInt32(0))
        return file + payload
    }
}
