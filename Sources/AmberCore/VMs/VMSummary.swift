/// One line of `amber ps`. The JSON field names are part of Amber's interface: keep them stable.
public struct VMSummary: Encodable, Equatable, Sendable {
    public enum State: String, Encodable, Sendable {
        /// Reported by amber-vmm.
        case starting, running, paused, stopping
        /// amber-vmm is alive but its socket does not exist yet.
        case booting
        /// amber-vmm is alive but does not answer on its socket.
        case unresponsive
        /// No live amber-vmm: the directory holds the last run's configuration and logs.
        case stopped
    }

    public var name: String
    public var state: State
    public var pid: Int32?
    public var vcpus: Int?
    public var memoryBytes: UInt64?
    public var uptimeSeconds: Double?
    /// Empty for a VM without NICs.
    public var networkInterfaces: [NICSummary] = []

    private enum CodingKeys: String, CodingKey {
        case name, state, pid, vcpus, memoryBytes, uptimeSeconds, networkInterfaces
    }

    /// Absent values are written as null rather than left out, so every object has every field.
    public func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(state, forKey: .state)
        try container.encode(pid, forKey: .pid)
        try container.encode(vcpus, forKey: .vcpus)
        try container.encode(memoryBytes, forKey: .memoryBytes)
        try container.encode(uptimeSeconds, forKey: .uptimeSeconds)
        try container.encode(networkInterfaces, forKey: .networkInterfaces)
    }
}
