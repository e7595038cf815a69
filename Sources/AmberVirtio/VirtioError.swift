/// A virtio failure: a guest that broke the virtio rules (the device then needs a reset) or a host-side
/// problem such as a disk image that cannot be opened. One line naming the thing and what to do.
public struct VirtioError: Error, CustomStringConvertible, Equatable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
