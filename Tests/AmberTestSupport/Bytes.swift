import Glibc

/// Compares large byte collections without printing them when an expectation fails.
public func sameBytes<A: Collection, B: Collection>(_ a: A, _ b: B) -> Bool where A.Element == UInt8, B.Element == UInt8 {
    a.elementsEqual(b)
}

/// Damage as a bad disk sector or a hostile edit would leave it: one byte of a file inverted in place.
public func flipByte(at offset: UInt64, in path: String) throws {
    let fd = open(path, O_RDWR)
    guard fd >= 0 else { throw TestSupportError("cannot open \(path) to damage it") }
    defer { close(fd) }
    var byte: UInt8 = 0
    guard pread(fd, &byte, 1, off_t(offset)) == 1 else { throw TestSupportError("\(path) has no byte at \(offset)") }
    byte ^= 0xFF
    guard pwrite(fd, &byte, 1, off_t(offset)) == 1 else { throw TestSupportError("cannot write \(path) at \(offset)") }
}

public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
