/// The standard 36-byte ACPI description header, with the identity Amber puts in every table.
enum ACPITable {
    static let headerSize = 36
    static let oemID = "AMBER"
    static let oemTableID = "AMBERVM"
    static let creatorID = "AMBR"

    /// A complete table: header (length and checksum filled in) followed by `body`.
    static func make(signature: String, revision: UInt8, body: [UInt8]) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.appendASCII(signature, paddedTo: 4)
        bytes.appendLittleEndian(UInt32(headerSize + body.count))
        bytes.append(revision)
        bytes.append(0)
        bytes.appendASCII(oemID, paddedTo: 6)
        bytes.appendASCII(oemTableID, paddedTo: 8)
        bytes.appendLittleEndian(UInt32(1))
        bytes.appendASCII(creatorID, paddedTo: 4)
        bytes.appendLittleEndian(UInt32(1))
        bytes += body
        bytes[9] = checksumByte(bytes)
        return bytes
    }
}

/// A Generic Address Structure (12 bytes) naming a register in system I/O space.
struct GenericAddress {
    static let systemIOSpace: UInt8 = 1
    static let byteAccess: UInt8 = 1

    static func ioPort(_ port: UInt16, bitWidth: UInt8 = 8) -> [UInt8] {
        var bytes: [UInt8] = [systemIOSpace, bitWidth, 0, byteAccess]
        bytes.appendLittleEndian(UInt64(port))
        return bytes
    }
}
