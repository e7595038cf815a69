/// A saved vCPU or VM state that cannot be put back: a field of the wrong size or out of range.
/// Saved state comes from files, so it is checked before any of it reaches KVM.
public struct VMStateError: Error, CustomStringConvertible, Equatable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
