/// The control protocol between the `amber` CLI (client) and amber-vmm (server): one JSON object per
/// line over the VM's Unix socket. The client sends one `ControlRequest`, the server answers with one
/// `ControlResponse`. After a successful `console` request the connection becomes a raw byte stream:
/// serial output flows to the client, bytes the client sends are typed into the serial port.
public struct ControlRequest: Codable, Sendable, Equatable {
    public enum Operation: String, Codable, Sendable {
        case status, pause, resume, stop, console
    }

    public var op: Operation

    public init(_ op: Operation) {
        self.op = op
    }
}

public struct ControlResponse: Codable, Sendable, Equatable {
    public var ok: Bool
    /// Set when `ok` is false: one line saying what went wrong and what to do.
    public var error: String?
    public var status: VMStatus?

    public init(ok: Bool, error: String? = nil, status: VMStatus? = nil) {
        self.ok = ok
        self.error = error
        self.status = status
    }
}

public struct VMStatus: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        case starting, running, paused, stopping
    }

    public var name: String
    public var pid: Int32
    public var state: State
    public var vcpus: Int
    public var memoryBytes: UInt64
    /// Seconds since amber-vmm started the guest.
    public var uptimeSeconds: Double

    public init(name: String, pid: Int32, state: State, vcpus: Int, memoryBytes: UInt64, uptimeSeconds: Double) {
        self.name = name
        self.pid = pid
        self.state = state
        self.vcpus = vcpus
        self.memoryBytes = memoryBytes
        self.uptimeSeconds = uptimeSeconds
    }
}
