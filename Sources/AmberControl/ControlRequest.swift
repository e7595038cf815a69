/// What a client asks of a running VM: one case per operation, each with exactly what it needs.
/// On the wire: `{"op":"snapshotBegin","memory":true,"v":2}`.
public enum ControlRequest: Equatable, Sendable {
    case status
    case pause
    case resume
    case stop
    /// Turns the connection into the serial console's byte stream once accepted.
    case console
    /// Pauses the VM and captures it; with `memory`, its memory is held as it is now (false: disk only).
    case snapshotBegin(memory: Bool)
    case snapshotRelease
    case snapshotEnd
    /// The snapshot was recorded under `id`.
    case snapshotCommitted(id: String)

    /// The operation's name on the wire and in messages.
    public var operation: String {
        switch self {
        case .status: "status"
        case .pause: "pause"
        case .resume: "resume"
        case .stop: "stop"
        case .console: "console"
        case .snapshotBegin: "snapshotBegin"
        case .snapshotRelease: "snapshotRelease"
        case .snapshotEnd: "snapshotEnd"
        case .snapshotCommitted: "snapshotCommitted"
        }
    }

    /// The step of a snapshot this request takes, if it is one.
    public var snapshotStep: SnapshotStep? {
        switch self {
        case .snapshotBegin: .begin
        case .snapshotRelease: .release
        case .snapshotEnd: .end
        case .snapshotCommitted: .committed
        case .status, .pause, .resume, .stop, .console: nil
        }
    }
}

extension ControlRequest: Codable {
    public init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: MessageKey.self)
        let operation = try container.decode(String.self, forKey: .op)
        switch operation {
        case "status": self = .status
        case "pause": self = .pause
        case "resume": self = .resume
        case "stop": self = .stop
        case "console": self = .console
        case "snapshotBegin": self = .snapshotBegin(memory: try container.decode(Bool.self, forKey: .memory))
        case "snapshotRelease": self = .snapshotRelease
        case "snapshotEnd": self = .snapshotEnd
        case "snapshotCommitted": self = .snapshotCommitted(id: try container.decode(String.self, forKey: .snapshotID))
        default: throw ControlProtocolError.malformed("ControlRequest (no operation \"\(operation.prefix(40))\")")
        }
    }

    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: MessageKey.self)
        try container.encode(ControlProtocol.version, forKey: .version)
        try container.encode(operation, forKey: .op)
        switch self {
        case .snapshotBegin(let memory): try container.encode(memory, forKey: .memory)
        case .snapshotCommitted(let id): try container.encode(id, forKey: .snapshotID)
        case .status, .pause, .resume, .stop, .console, .snapshotRelease, .snapshotEnd: break
        }
    }
}
