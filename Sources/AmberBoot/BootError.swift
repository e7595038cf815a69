/// Why a kernel, initrd or command line cannot be booted; the description is one line naming the
/// input and what to do about it.
public struct BootError: Error, CustomStringConvertible, Equatable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
