/// A virtio failure: a guest that broke the virtio rules (the device then needs a reset) or a device that
/// cannot stand in for the saved or replaced one (a disk's own failures are `DiskError`s). One line naming
/// the thing and what to do.
public struct VirtioError: Error, CustomStringConvertible, Equatable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
