import Foundation
import Glibc
@testable import AmberDisk

/// A temporary directory holding a patterned base image; overlays are created beside it.
final class OverlayTestFixture {
    let directory: String
    let basePath: String
    let baseContent: [UInt8]

    /// A base of `chunks` whole 64 KiB chunks plus `tail` bytes (a short last chunk when non-zero).
    init(chunks: Int = 16, tail: Int = 8192) throws {
        directory = NSTemporaryDirectory() + "amber-overlay-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
        basePath = directory + "/base.img"
        baseContent = (0..<(chunks * 65536 + tail)).map { Self.baseByte($0) }
        guard FileManager.default.createFile(atPath: basePath, contents: Data(baseContent)) else {
            throw DiskError("test could not create \(basePath)")
        }
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func baseByte(_ offset: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: offset &* 13 &+ offset >> 16)
    }

    func overlayPath(_ name: String = "overlay") -> String { directory + "/" + name }

    @discardableResult
    func createOverlay(_ name: String = "overlay", chunkSize: Int = OverlayDisk.defaultChunkSize) throws -> OverlayDisk {
        try OverlayDisk.create(basePath: basePath, overlayPath: overlayPath(name), chunkSize: chunkSize)
    }

    func baseOnDisk() throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: basePath)))
    }

    func baseModificationTime() throws -> Date {
        try FileManager.default.attributesOfItem(atPath: basePath)[.modificationDate] as! Date
    }
}
