/// Bad input to amber-vmm: the VM cannot be built as configured. amber-vmm exits 2 with this line.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
