#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The on-disk form of a `MachineState`: a 32-byte header, then the state as JSON with sorted keys
/// (so encoding is deterministic: encode -> decode -> encode gives the same bytes).
///
///     offset  size  field
///          0     8  magic "AMBERMST"
///          8     4  format version (little-endian)
///         12     4  reserved, 0
///         16     8  payload length in bytes
///         24     4  CRC-32 of the payload
///         28     4  reserved, 0
///
/// Bytes read back are untrusted: every check below fails with a `MachineStateError`, never a crash.
extension MachineState {
    /// Version 1: the first format. Bump it when a field changes meaning or a required one is added,
    /// and keep decoding the older versions.
    public static let formatVersion: UInt32 = 1
    static let magic = Array("AMBERMST".utf8)
    static let headerSize = 32
    /// A 256-vCPU machine encodes to a few MiB; anything claiming more than this is not ours.
    public static let maximumEncodedBytes = 64 << 20

    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let payload = try encoder.encode(self)
        var bytes = Self.magic
        bytes.reserveCapacity(Self.headerSize + payload.count)
        Self.append(Self.formatVersion, to: &bytes)
        Self.append(UInt32(0), to: &bytes)
        Self.append(UInt64(payload.count), to: &bytes)
        Self.append(payload.withUnsafeBytes { CRC32.checksum($0) }, to: &bytes)
        Self.append(UInt32(0), to: &bytes)
        bytes.append(contentsOf: payload)
        return bytes
    }

    public init(encoded bytes: [UInt8]) throws {
        let payload = try Self.payload(of: bytes)
        do {
            self = try JSONDecoder().decode(MachineState.self, from: Data(payload))
        } catch let error as DecodingError {
            throw MachineStateError("machine state is corrupt: \(Self.summary(of: error))")
        }
        try validate()
    }

    /// The JSON after a checked header: magic, version, length and CRC-32 (see the layout above).
    package static func payload(of bytes: [UInt8]) throws -> ArraySlice<UInt8> {
        guard bytes.count >= Self.headerSize else {
            throw MachineStateError("machine state is truncated: \(bytes.count) bytes, shorter than its \(Self.headerSize)-byte header")
        }
        guard bytes.count <= Self.headerSize + Self.maximumEncodedBytes else {
            throw MachineStateError(
                "machine state is \(bytes.count) bytes, more than the \(Self.maximumEncodedBytes) a machine state can be: it is not one")
        }
        guard Array(bytes[0..<8]) == Self.magic else {
            throw MachineStateError(
                "not an Amber machine state (its first bytes are not \"AMBERMST\"): the snapshot is corrupt or this is another file")
        }
        let version: UInt32 = Self.read(bytes, at: 8)
        guard version <= Self.formatVersion else {
            throw MachineStateError(
                "machine state format version \(version) is newer than this Amber understands (up to \(Self.formatVersion)): upgrade Amber to restore this snapshot"
            )
        }
        guard version >= 1 else {
            throw MachineStateError("machine state format version 0 does not exist: the snapshot is corrupt")
        }
        let length: UInt64 = Self.read(bytes, at: 16)
        let present = bytes.count - Self.headerSize
        guard length == UInt64(present) else {
            throw MachineStateError("machine state is truncated or padded: its header promises \(length) bytes of state, \(present) follow")
        }
        let expectedChecksum: UInt32 = Self.read(bytes, at: 24)
        let payload = bytes[Self.headerSize...]
        let checksum = payload.withUnsafeBytes { CRC32.checksum($0) }
        guard checksum == expectedChecksum else {
            throw MachineStateError(
                "machine state is corrupt: its checksum is 0x\(String(checksum, radix: 16)), the header says 0x\(String(expectedChecksum, radix: 16))"
            )
        }
        return payload
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to bytes: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
    }

    private static func read<T: FixedWidthInteger>(_ bytes: [UInt8], at offset: Int) -> T {
        bytes.withUnsafeBytes { T(littleEndian: $0.loadUnaligned(fromByteOffset: offset, as: T.self)) }
    }

    /// One line naming the field, instead of DecodingError's multi-line dump.
    static func summary(of error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            let names = context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }
            return names.isEmpty ? "the top level" : names.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return "field \(key.stringValue) missing at \(path(context))"
        case .valueNotFound(_, let context):
            return "a value is missing at \(path(context))"
        case .typeMismatch(_, let context):
            return "wrong kind of value at \(path(context))"
        case .dataCorrupted(let context):
            return "unreadable value at \(path(context))"
        @unknown default:
            return "undecodable"
        }
    }
}
