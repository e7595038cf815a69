/// A tiny encoder for the ACPI Machine Language the DSDT needs (ACPI 6.x, section 20.2): names,
/// scopes, devices, packages, buffers, strings and integers. Each function returns the encoded bytes.
public enum AML {
    static let zeroOp: UInt8 = 0x00
    static let oneOp: UInt8 = 0x01
    static let nameOp: UInt8 = 0x08
    static let bytePrefix: UInt8 = 0x0A
    static let wordPrefix: UInt8 = 0x0B
    static let dWordPrefix: UInt8 = 0x0C
    static let stringPrefix: UInt8 = 0x0D
    static let qWordPrefix: UInt8 = 0x0E
    static let scopeOp: UInt8 = 0x10
    static let bufferOp: UInt8 = 0x11
    static let packageOp: UInt8 = 0x12
    static let extOpPrefix: UInt8 = 0x5B
    static let deviceOp: UInt8 = 0x82
    static let rootPrefix: UInt8 = 0x5C

    /// A name path: four-character segments (padded with "_"), optionally from the root ("\\_SB_").
    public static func nameString(_ path: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var rest = Substring(path)
        if rest.hasPrefix("\\") {
            bytes.append(rootPrefix)
            rest = rest.dropFirst()
        }
        let segments = rest.split(separator: ".")
        precondition(segments.count == 1, "only single-segment names are needed here")
        let segment = Array(segments[0].utf8)
        precondition(!segment.isEmpty && segment.count <= 4, "name segment \(segments[0]) must be 1-4 characters")
        bytes += segment + Array(repeating: UInt8(ascii: "_"), count: 4 - segment.count)
        return bytes
    }

    /// An integer with the smallest encoding (ZeroOp, OneOp, Byte/Word/DWord/QWord prefix).
    public static func integer(_ value: UInt64) -> [UInt8] {
        var bytes: [UInt8]
        switch value {
        case 0: return [zeroOp]
        case 1: return [oneOp]
        case ...0xFF: bytes = [bytePrefix, UInt8(value)]
        case ...0xFFFF: bytes = [wordPrefix]; bytes.appendLittleEndian(UInt16(value))
        case ...0xFFFF_FFFF: bytes = [dWordPrefix]; bytes.appendLittleEndian(UInt32(value))
        default: bytes = [qWordPrefix]; bytes.appendLittleEndian(value)
        }
        return bytes
    }

    public static func string(_ text: String) -> [UInt8] {
        [stringPrefix] + Array(text.utf8) + [0]
    }

    /// Name(path, object)
    public static func name(_ path: String, _ object: [UInt8]) -> [UInt8] {
        [nameOp] + nameString(path) + object
    }

    /// Scope(path) { terms }
    public static func scope(_ path: String, _ terms: [[UInt8]]) -> [UInt8] {
        [scopeOp] + withPackageLength(nameString(path) + terms.flatMap { $0 })
    }

    /// Device(path) { terms }
    public static func device(_ path: String, _ terms: [[UInt8]]) -> [UInt8] {
        [extOpPrefix, deviceOp] + withPackageLength(nameString(path) + terms.flatMap { $0 })
    }

    /// Package() { elements }
    public static func package(_ elements: [[UInt8]]) -> [UInt8] {
        precondition(elements.count <= 0xFF, "a Package holds at most 255 elements")
        return [packageOp] + withPackageLength([UInt8(elements.count)] + elements.flatMap { $0 })
    }

    /// Buffer() { bytes }
    public static func buffer(_ contents: [UInt8]) -> [UInt8] {
        [bufferOp] + withPackageLength(integer(UInt64(contents.count)) + contents)
    }

    /// `body` preceded by its PkgLength, which counts itself: one byte up to 63, else a lead byte
    /// (count of following bytes in bits 7-6, low nibble in bits 3-0) and 1-3 more bytes.
    public static func withPackageLength(_ body: [UInt8]) -> [UInt8] {
        packageLength(body.count) + body
    }

    public static func packageLength(_ bodyLength: Int) -> [UInt8] {
        if bodyLength + 1 <= 0x3F { return [UInt8(bodyLength + 1)] }
        for extraBytes in 1...3 {
            let total = bodyLength + 1 + extraBytes
            guard total < 1 << (4 + 8 * extraBytes) else { continue }
            var bytes = [UInt8(extraBytes << 6) | UInt8(total & 0xF)]
            for index in 0..<extraBytes { bytes.append(UInt8((total >> (4 + 8 * index)) & 0xFF)) }
            return bytes
        }
        preconditionFailure("AML object of \(bodyLength) bytes exceeds the largest PkgLength")
    }
}

/// Resource descriptors for `_CRS` buffers (ACPI 6.x, section 6.4).
public enum ResourceDescriptor {
    /// Memory32Fixed(ReadWrite or ReadOnly, base, length): large item 0x86, 9 bytes of data.
    public static func memory32Fixed(base: UInt32, length: UInt32, writable: Bool = true) -> [UInt8] {
        var bytes: [UInt8] = [0x86]
        bytes.appendLittleEndian(UInt16(9))
        bytes.append(writable ? 1 : 0)
        bytes.appendLittleEndian(base)
        bytes.appendLittleEndian(length)
        return bytes
    }

    /// IO(Decode16, base, base, 1, length): small item 0x47 (type 8, 7 bytes of data).
    public static func ioPort(base: UInt16, length: UInt8) -> [UInt8] {
        let decodes16BitAddresses: UInt8 = 1
        var bytes: [UInt8] = [0x47, decodes16BitAddresses]
        bytes.appendLittleEndian(base)
        bytes.appendLittleEndian(base)
        bytes.append(1)
        bytes.append(length)
        return bytes
    }

    /// Interrupt(ResourceConsumer, Edge, ActiveHigh, Exclusive) { gsi }: extended interrupt large item 0x89.
    /// Flags: bit 0 consumer, bit 1 edge-triggered, bit 2 active-low, bit 3 shared.
    public static func edgeInterrupt(gsi: UInt32) -> [UInt8] {
        let consumer: UInt8 = 1 << 0
        let edgeTriggered: UInt8 = 1 << 1
        var bytes: [UInt8] = [0x89]
        bytes.appendLittleEndian(UInt16(6))
        bytes.append(consumer | edgeTriggered)
        bytes.append(1)
        bytes.appendLittleEndian(gsi)
        return bytes
    }

    /// ResourceTemplate() { descriptors }: the descriptors, then an end tag whose checksum byte makes
    /// the whole template sum to zero, wrapped in a Buffer.
    public static func template(_ descriptors: [[UInt8]]) -> [UInt8] {
        let endTag: UInt8 = 0x79
        var bytes = descriptors.flatMap { $0 } + [endTag]
        bytes.append(checksumByte(bytes))
        return AML.buffer(bytes)
    }
}
