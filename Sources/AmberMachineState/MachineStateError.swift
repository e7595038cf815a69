/// A machine state that cannot be used: unreadable, corrupt, truncated, from a newer Amber, or not
/// fitting the machine it is restored onto. One line saying which and what to do.
public struct MachineStateError: Error, CustomStringConvertible, Equatable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
