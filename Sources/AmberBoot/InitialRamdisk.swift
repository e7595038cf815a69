/// An initrd image, loaded whole into guest memory below the kernel's initrd_addr_max.
public struct InitialRamdisk: Sendable {
    public let name: String
    public let bytes: [UInt8]

    public init(path: String) throws {
        self.init(bytes: try readWholeFile(path, what: "initrd"), name: path)
    }

    public init(bytes: [UInt8], name: String) {
        self.bytes = bytes
        self.name = name
    }
}
