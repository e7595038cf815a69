import AmberTestSupport
import Foundation
import Testing
@testable import AmberDisk

/// The contract the snapshot code relies on: the previous manifest with the dirty chunks re-read equals
/// a full re-read of the disk, across random writes, resets and reopens. A "manifest" here keeps each
/// chunk's bytes where the store keeps its digest.
@Suite struct OverlayManifestTests {
    let fixture: OverlayTestFixture

    init() throws {
        fixture = try OverlayTestFixture()
    }

    func fullManifest(_ disk: OverlayDisk) throws -> [[UInt8]] {
        try (0..<disk.chunkCount).map { try disk.read(at: UInt64($0 * disk.chunkSize), count: disk.chunkLength($0)) }
    }

    @Test func previousManifestPlusDirtyChunksIsTheDisk() throws {
        var disk: OverlayDisk! = try fixture.createOverlay()
        var manifest = try fullManifest(disk)
        var random = SeededGenerator(seed: 7)
        for snapshot in 0..<30 {
            for _ in 0..<Int.random(in: 0...6, using: &random) {
                let count = Int.random(in: 1...100_000, using: &random)
                let offset = Int.random(in: 0...(Int(disk.size) - count), using: &random)
                try disk.write([UInt8](repeating: UInt8(truncatingIfNeeded: snapshot + 1), count: count), at: UInt64(offset))
            }
            switch snapshot % 10 {
            case 4:
                try disk.reset()
            case 7:
                try disk.flush()
                disk = nil
                disk = try OverlayDisk(basePath: fixture.basePath, overlayPath: fixture.overlayPath())
            default:
                break
            }
            for chunk in disk.takeDirtyChunks() {
                manifest[chunk] = try disk.read(at: UInt64(chunk * disk.chunkSize), count: disk.chunkLength(chunk))
            }
            let full = try fullManifest(disk)
            let wrong = full.indices.filter { manifest[$0] != full[$0] }
            #expect(wrong.isEmpty, "snapshot \(snapshot): chunks whose manifest entry is stale")
        }
    }
}
