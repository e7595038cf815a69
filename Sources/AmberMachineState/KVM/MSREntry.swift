/// A model-specific register and its value.
public struct MSREntry: Codable, Equatable, Sendable {
    public var index: UInt32
    public var value: UInt64

    public init(index: UInt32, value: UInt64) {
        self.index = index
        self.value = value
    }
}
