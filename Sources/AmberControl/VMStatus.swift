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
    /// Where guest RAM starts in amber-vmm's address space: debuggers and tests read and write it
    /// through `/proc/<pid>/mem` there (it is private memory, not a file).
    public var memoryAddress: UInt64

    public init(
        name: String, pid: Int32, state: State, vcpus: Int, memoryBytes: UInt64, uptimeSeconds: Double,
        memoryAddress: UInt64
    ) {
        self.name = name
        self.pid = pid
        self.state = state
        self.vcpus = vcpus
        self.memoryBytes = memoryBytes
        self.uptimeSeconds = uptimeSeconds
        self.memoryAddress = memoryAddress
    }
}
