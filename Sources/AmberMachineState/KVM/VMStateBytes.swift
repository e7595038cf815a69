#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// KVM's state structs are plain C structs whose layout is part of the kernel's stable ABI, so a
/// saved state keeps each as its exact bytes and checks the size before turning bytes back into one.
package enum VMStateBytes {
    package static func of<T>(_ value: T) -> Data {
        withUnsafeBytes(of: value) { Data($0) }
    }

    package static func load<T>(_ type: T.Type, from data: Data, field: String) throws -> T {
        try check(data, is: MemoryLayout<T>.size, field: field)
        return data.withUnsafeBytes { $0.loadUnaligned(as: T.self) }
    }

    package static func check(_ data: Data, is size: Int, field: String) throws {
        guard data.count == size else {
            throw VMStateError(
                "saved \(field) is \(data.count) bytes, expected \(size): the state is corrupt or from an incompatible amber")
        }
    }
}
