/// A failure building or driving the machine, as one line saying what and, where it helps, what to do.
public struct MachineError: Error, CustomStringConvertible, Equatable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
