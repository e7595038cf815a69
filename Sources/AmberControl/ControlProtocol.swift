#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The control protocol between `amber` (the client) and amber-vmm (the server): one JSON object per
/// line over the VM's Unix socket. The client sends a `ControlRequest`, the server answers with a
/// `ControlReply`. After an accepted `console` request the connection becomes a raw byte stream:
/// serial output flows to the client, bytes the client sends are typed into the serial port. A
/// snapshot is one connection that walks `SnapshotStep`'s order (begin, release, end, committed).
///
/// Every message carries the protocol `version` ("v"). amber and amber-vmm come from one build, so
/// they always agree; they differ only when amber was upgraded while a VM kept running under the
/// old amber-vmm (or the reverse). Then the side that reads the other's message refuses it with
/// `ControlProtocolError.versionMismatch` (amber-vmm answers with the refusal code `versionMismatch`),
/// whose message says to restart the VM with this build, rather than misreading a field.
public enum ControlProtocol {
    /// 2: requests and replies as one case each (1, before it, had structs of optional fields and no "v").
    public static let version = 2
    /// The longest first request line amber-vmm reads: requests are small.
    public static let maximumRequestBytes = 64 << 10

    /// `message` as one line: its JSON (sorted keys, so equal messages are equal bytes) and a newline.
    public static func line<Message: Encodable>(_ message: Message) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Array(try encoder.encode(message)) + [UInt8(ascii: "\n")]
    }

    /// Decodes one line; anything but a well-formed message of this version throws a one-line
    /// `ControlProtocolError`.
    public static func decode<Message: Decodable>(_ type: Message.Type, from line: some Collection<UInt8>) throws -> Message {
        let data = Data(line)
        let decoder = JSONDecoder()
        do {
            let version = try decoder.decode(VersionProbe.self, from: data).v
            guard version == Self.version else { throw ControlProtocolError.versionMismatch(received: version) }
            return try decoder.decode(type, from: data)
        } catch let error as ControlProtocolError {
            throw error
        } catch {
            throw ControlProtocolError.malformed(String(describing: Message.self))
        }
    }

    /// Just the version of a message; a message without one is of version 1.
    private struct VersionProbe: Decodable {
        var v: Int

        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: MessageKey.self)
            v = try container.decodeIfPresent(Int.self, forKey: .version) ?? 1
        }
    }
}

/// A line that is not a message this build understands.
public enum ControlProtocolError: Error, CustomStringConvertible, Equatable, Sendable {
    case versionMismatch(received: Int)
    /// Not JSON, or not a `kind` (an unknown operation, a missing or mistyped field).
    case malformed(String)

    public var description: String {
        switch self {
        case .versionMismatch(let received):
            return
                "control protocol version \(received), but this build speaks version \(ControlProtocol.version): amber and amber-vmm come from different builds; stop the VM and start it again with this build"
        case .malformed(let kind):
            return "not a \(kind) of control protocol version \(ControlProtocol.version)"
        }
    }
}

/// The keys of the protocol's messages: an operation or a reply kind, the version, and each case's payload.
enum MessageKey: String, CodingKey {
    case version = "v"
    case op, reply
    case memory, snapshotID, status, capture, pauseMicroseconds, refusal
}
