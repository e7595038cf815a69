/// amber-vmm's answer to one `ControlRequest`: one case per kind of answer, each with exactly its
/// payload. On the wire: `{"reply":"status","status":{...},"v":2}`.
public enum ControlReply: Equatable, Sendable {
    /// To `status`, `pause`, `resume`, `stop` and `console`: the VM as it is after the request.
    case status(VMStatus)
    /// To `snapshotBegin`: the paused VM's snapshot material.
    case snapshotBegun(SnapshotCapture)
    /// To `snapshotRelease`: the guest runs on; it was held paused this long for the snapshot.
    case snapshotReleased(pauseMicroseconds: Int64)
    /// To `snapshotEnd`: the held memory is let go; the guest was held paused this long.
    case snapshotEnded(pauseMicroseconds: Int64)
    /// To `snapshotCommitted`.
    case snapshotCommitted
    case refused(ControlRefusal)

    /// The kind's name on the wire and in messages.
    public var kind: String {
        switch self {
        case .status: "status"
        case .snapshotBegun: "snapshotBegun"
        case .snapshotReleased: "snapshotReleased"
        case .snapshotEnded: "snapshotEnded"
        case .snapshotCommitted: "snapshotCommitted"
        case .refused: "refused"
        }
    }
}

extension ControlReply: Codable {
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: MessageKey.self)
        let kind = try container.decode(String.self, forKey: .reply)
        switch kind {
        case "status": self = .status(try container.decode(VMStatus.self, forKey: .status))
        case "snapshotBegun": self = .snapshotBegun(try container.decode(SnapshotCapture.self, forKey: .capture))
        case "snapshotReleased": self = .snapshotReleased(pauseMicroseconds: try container.decode(Int64.self, forKey: .pauseMicroseconds))
        case "snapshotEnded": self = .snapshotEnded(pauseMicroseconds: try container.decode(Int64.self, forKey: .pauseMicroseconds))
        case "snapshotCommitted": self = .snapshotCommitted
        case "refused": self = .refused(try container.decode(ControlRefusal.self, forKey: .refusal))
        default: throw ControlProtocolError.malformed("ControlReply (no reply kind \"\(kind.prefix(40))\")")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: MessageKey.self)
        try container.encode(ControlProtocol.version, forKey: .version)
        try container.encode(kind, forKey: .reply)
        switch self {
        case .status(let status): try container.encode(status, forKey: .status)
        case .snapshotBegun(let capture): try container.encode(capture, forKey: .capture)
        case .snapshotReleased(let micros), .snapshotEnded(let micros): try container.encode(micros, forKey: .pauseMicroseconds)
        case .snapshotCommitted: break
        case .refused(let refusal): try container.encode(refusal, forKey: .refusal)
        }
    }
}
