/// What the driver wrote into one queue's registers.
public struct VirtqueueConfiguration: Codable, Equatable, Sendable {
    public var size: UInt16 = 0
    public var ready = false
    public var descriptorTable: UInt64 = 0
    public var availableRing: UInt64 = 0
    public var usedRing: UInt64 = 0

    public init() {}
}
