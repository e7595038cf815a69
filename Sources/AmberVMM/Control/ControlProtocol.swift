#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The control protocol between the `amber` CLI (client) and amber-vmm (server): one JSON object per
/// line over the VM's Unix socket. The client sends one `ControlRequest`, the server answers with one
/// `ControlResponse`. After a successful `console` request the connection becomes a raw byte stream:
/// serial output flows to the client, bytes the client sends are typed into the serial port.
/// After a successful `snapshotBegin` the VM stays paused while the connection is open: the client
/// reads the guest memory, then sends `snapshotEnd` on the same connection (or just closes it, or
/// dies) and amber-vmm resumes the VM. Fields added after the first version are optional, so
/// messages of either version decode.
public struct ControlRequest: Codable, Sendable, Equatable {
    public enum Operation: String, Codable, Sendable {
        case status, pause, resume, stop, console, snapshotBegin, snapshotEnd
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
    /// Answer to `snapshotBegin`.
    public var capture: SnapshotCapture?
    /// Answer to `snapshotEnd`: how long the guest was held paused for the snapshot.
    public var pauseMicroseconds: Int64?

    public init(ok: Bool, error: String? = nil, status: VMStatus? = nil, capture: SnapshotCapture? = nil,
                pauseMicroseconds: Int64? = nil) {
        self.ok = ok
        self.error = error
        self.status = status
        self.capture = capture
        self.pauseMicroseconds = pauseMicroseconds
    }
}

/// A paused VM's snapshot material as `snapshotBegin` hands it out.
public struct SnapshotCapture: Codable, Sendable, Equatable {
    /// The guest memory file as `/proc/<amber-vmm pid>/fd/<n>`: open it read-only and map it shared
    /// while the VM stays paused.
    public var memoryPath: String
    public var memoryBytes: UInt64
    /// The encoded `MachineState` (base64 in JSON).
    public var machineState: Data
    /// True when the VM was already paused by `amber pause`: `snapshotEnd` then leaves it paused.
    public var wasPaused: Bool

    public init(memoryPath: String, memoryBytes: UInt64, machineState: Data, wasPaused: Bool) {
        self.memoryPath = memoryPath
        self.memoryBytes = memoryBytes
        self.machineState = machineState
        self.wasPaused = wasPaused
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
