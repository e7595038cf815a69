/// Little-endian stores into byte arrays: every structure the guest reads (zero page, ACPI tables,
/// page tables) is little-endian and built here as plain bytes.
extension Array where Element == UInt8 {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }

    mutating func storeLittleEndian<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        Swift.withUnsafeBytes(of: value.littleEndian) { bytes in
            for (index, byte) in bytes.enumerated() { self[offset + index] = byte }
        }
    }

    func loadLittleEndian<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        var value: T = 0
        Swift.withUnsafeMutableBytes(of: &value) { bytes in
            for index in 0..<MemoryLayout<T>.size { bytes[index] = self[offset + index] }
        }
        return T(littleEndian: value)
    }

    mutating func appendASCII(_ text: String, paddedTo width: Int) {
        var bytes = Array(text.utf8.prefix(width))
        bytes += Array(repeating: UInt8(ascii: " "), count: width - bytes.count)
        append(contentsOf: bytes)
    }
}

/// The byte that makes `bytes` sum to zero modulo 256 (ACPI tables, RSDP, resource templates).
func checksumByte<C: Collection>(_ bytes: C) -> UInt8 where C.Element == UInt8 {
    let sum = bytes.reduce(UInt8(0)) { $0 &+ $1 }
    return 0 &- sum
}
