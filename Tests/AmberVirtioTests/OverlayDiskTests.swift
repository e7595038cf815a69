import AmberTestSupport
import Foundation
import Glibc
import Testing
@testable import AmberDisk

@Suite struct OverlayDiskTests {
    let fixture: OverlayTestFixture

    init() throws {
        fixture = try OverlayTestFixture()
    }

    @Test func readsTheBaseUntilWritten() throws {
        let disk = try fixture.createOverlay()
        #expect(disk.size == UInt64(fixture.baseContent.count))
        #expect(disk.chunkCount == 17, "16 whole chunks and a short last one")
        #expect(sameBytes(try disk.read(at: 0, count: fixture.baseContent.count), fixture.baseContent))
        #expect(disk.overlayChunks().isEmpty)
    }

    /// A write from the middle of chunk 0 into the middle of chunk 3: the untouched parts of chunks 0
    /// and 3 are copied up from the base, chunks 1 and 2 are written whole.
    @Test func partialWritesAcrossChunkBoundariesKeepTheRestOfTheirChunks() throws {
        let disk = try fixture.createOverlay()
        let offset = 65536 - 1000
        let data = (0..<(3 * 65536)).map { UInt8(truncatingIfNeeded: $0 * 7 + 3) }
        try disk.write(data, at: UInt64(offset))
        var expected = fixture.baseContent
        expected.replaceSubrange(offset..<(offset + data.count), with: data)
        #expect(sameBytes(try disk.read(at: 0, count: expected.count), expected))
        #expect(disk.overlayChunks() == [0, 1, 2, 3])
        #expect(try disk.read(at: UInt64(offset - 10), count: 20) == Array(expected[(offset - 10)..<(offset + 10)]))
    }

    @Test func writesToTheShortLastChunk() throws {
        let disk = try fixture.createOverlay()
        let offset = 16 * 65536 + 100
        try disk.write([1, 2, 3], at: UInt64(offset))
        var expected = fixture.baseContent
        expected.replaceSubrange(offset..<(offset + 3), with: [1, 2, 3])
        #expect(sameBytes(try disk.read(at: 16 * 65536, count: 8192), expected[(16 * 65536)...]))
        #expect(disk.chunkLength(16) == 8192)
        #expect(disk.overlayChunks() == [16])
    }

    /// Random unaligned reads and writes split over several buffers, against an in-memory model, with
    /// flushes and reopens along the way; the base stays byte-for-byte and mtime unchanged.
    @Test(arguments: [OverlayDisk.defaultChunkSize, 4096])
    func matchesAModelUnderRandomUnalignedIO(chunkSize: Int) throws {
        let modified = try fixture.baseModificationTime()
        var disk: OverlayDisk! = try fixture.createOverlay(chunkSize: chunkSize)
        var model = fixture.baseContent
        var random = SeededGenerator(seed: UInt64(chunkSize))
        for step in 0..<400 {
            let count = Int.random(in: 1...200_000, using: &random)
            let offset = Int.random(in: 0...(model.count - count), using: &random)
            let cut = Int.random(in: 0...count, using: &random)
            if Bool.random(using: &random) {
                var bytes = (0..<count).map { _ in UInt8.random(in: 0...255, using: &random) }
                try bytes.withUnsafeMutableBytes { all in
                    try disk.write(
                        from: [
                            UnsafeMutableRawBufferPointer(rebasing: all[..<cut]),
                            UnsafeMutableRawBufferPointer(rebasing: all[cut...]),
                        ], at: UInt64(offset))
                }
                model.replaceSubrange(offset..<(offset + count), with: bytes)
            } else {
                var bytes = [UInt8](repeating: 0, count: count)
                try bytes.withUnsafeMutableBytes { all in
                    try disk.read(
                        into: [
                            UnsafeMutableRawBufferPointer(rebasing: all[..<cut]),
                            UnsafeMutableRawBufferPointer(rebasing: all[cut...]),
                        ], at: UInt64(offset))
                }
                #expect(sameBytes(bytes, model[offset..<(offset + count)]), "step \(step)")
            }
            if step % 100 == 99 {
                try disk.flush()
                disk = nil
                disk = try OverlayDisk(basePath: fixture.basePath, overlayPath: fixture.overlayPath())
            }
        }
        #expect(sameBytes(try disk.read(at: 0, count: model.count), model))
        #expect(sameBytes(try fixture.baseOnDisk(), fixture.baseContent))
        #expect(try fixture.baseModificationTime() == modified)
    }

    @Test func writesSurviveCloseAndReopen() throws {
        do {
            let disk = try fixture.createOverlay()
            try disk.write([9, 9, 9], at: 200_000)
        }
        let reopened = try OverlayDisk(basePath: fixture.basePath, overlayPath: fixture.overlayPath())
        #expect(
            try reopened.read(at: 199_999, count: 5)
                == [fixture.baseContent[199_999], 9, 9, 9, fixture.baseContent[200_003]])
        #expect(reopened.overlayChunks() == [3])
    }

    @Test func overlaysOverOneBaseAreIndependent() throws {
        let first = try fixture.createOverlay("clone-1")
        let second = try fixture.createOverlay("clone-2")
        try first.write([UInt8](repeating: 0xAA, count: 5000), at: 70_000)
        try second.write([UInt8](repeating: 0xBB, count: 5000), at: 72_000)
        try first.flush()
        try second.flush()
        #expect(
            try first.read(at: 70_000, count: 7000)
                == [UInt8](repeating: 0xAA, count: 5000) + Array(fixture.baseContent[75_000..<77_000]))
        #expect(
            try second.read(at: 70_000, count: 7000)
                == Array(fixture.baseContent[70_000..<72_000]) + [UInt8](repeating: 0xBB, count: 5000))
        let third = try fixture.createOverlay("clone-3")
        #expect(sameBytes(try third.read(at: 0, count: fixture.baseContent.count), fixture.baseContent))
        #expect(sameBytes(try fixture.baseOnDisk(), fixture.baseContent))
    }

    @Test func dirtyChunksAreThoseWrittenSinceTheLastTake() throws {
        let disk = try fixture.createOverlay()
        #expect(disk.takeDirtyChunks().isEmpty)
        try disk.write([1], at: 65536 + 5)
        try disk.write([UInt8](repeating: 2, count: 65536 + 2), at: 3 * 65536 - 1)
        #expect(disk.takeDirtyChunks() == [1, 2, 3, 4])
        #expect(disk.takeDirtyChunks().isEmpty)
        try disk.write([3], at: 3 * 65536)
        _ = try disk.read(at: 0, count: 10 * 65536)
        #expect(disk.takeDirtyChunks() == [3], "rewriting a chunk already in the overlay dirties it; reads do not")
        #expect(disk.overlayChunks() == [1, 2, 3, 4])
    }

    @Test func chunksOfASnapshotThatWasNotRecordedCountAsChangedAgain() throws {
        let disk = try fixture.createOverlay()
        try disk.write([1], at: 2 * 65536)
        let taken = disk.takeDirtyChunks()
        try disk.write([2], at: 7 * 65536)
        disk.markDirty(taken)
        disk.markDirty([-1, 1 << 40])
        #expect(disk.takeDirtyChunks() == [2, 7], "given back, merged with new writes; out-of-range indices ignored")
    }

    @Test func reopenedOverlayReportsEveryOverlayChunkDirty() throws {
        do {
            let disk = try fixture.createOverlay()
            try disk.write([1], at: 5 * 65536)
            try disk.write([1], at: 9 * 65536)
            _ = disk.takeDirtyChunks()
            try disk.flush()
        }
        let reopened = try OverlayDisk(basePath: fixture.basePath, overlayPath: fixture.overlayPath())
        #expect(reopened.takeDirtyChunks() == [5, 9])
    }

    @Test func resetReturnsToTheBaseAndMarksTheDiscardedChunksDirty() throws {
        do {
            let disk = try fixture.createOverlay()
            try disk.write([UInt8](repeating: 7, count: 100), at: 2 * 65536 + 50)
            try disk.flush()
            _ = disk.takeDirtyChunks()
            try disk.write([8], at: 6 * 65536)
            try disk.reset()
            #expect(sameBytes(try disk.read(at: 0, count: fixture.baseContent.count), fixture.baseContent))
            #expect(disk.overlayChunks().isEmpty)
            #expect(disk.takeDirtyChunks() == [2, 6])
            try disk.write([9], at: 2 * 65536)
            #expect(try disk.read(at: 2 * 65536, count: 2) == [9, fixture.baseContent[2 * 65536 + 1]])
            try disk.flush()
        }
        let reopened = try OverlayDisk(basePath: fixture.basePath, overlayPath: fixture.overlayPath(), readOnly: true)
        #expect(reopened.overlayChunks() == [2])
        #expect(try reopened.read(at: 6 * 65536, count: 1) == [fixture.baseContent[6 * 65536]])
        #expect(throws: DiskError.self) { try reopened.write([1], at: 0) }
    }

    /// The capture path: another process (here another instance) reads a paused, flushed overlay.
    @Test func readOnlyOpenBesideTheWriterSeesTheLastFlush() throws {
        let writer = try fixture.createOverlay()
        try writer.write([1, 2, 3], at: 10)
        try writer.flush()
        try writer.write([4], at: 5 * 65536)
        let reader = try OverlayDisk(basePath: fixture.basePath, overlayPath: fixture.overlayPath(), readOnly: true)
        #expect(reader.overlayChunks() == [0])
        #expect(try reader.read(at: 10, count: 3) == [1, 2, 3])
        #expect(try reader.read(at: 5 * 65536, count: 1) == [fixture.baseContent[5 * 65536]], "not flushed yet")
        try writer.flush()
        let later = try OverlayDisk(basePath: fixture.basePath, overlayPath: fixture.overlayPath(), readOnly: true)
        #expect(try later.read(at: 5 * 65536, count: 1) == [4])
    }

    @Test func readChunkReturnsTheGuestView() throws {
        let disk = try fixture.createOverlay()
        try disk.write([5, 5], at: 16 * 65536)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: disk.chunkSize, alignment: 8)
        defer { buffer.deallocate() }
        #expect(try disk.readChunk(16, into: buffer) == 8192)
        #expect(sameBytes(buffer[0..<8192], [5, 5] + Array(fixture.baseContent[(16 * 65536 + 2)...])))
        #expect(try disk.readChunk(1, into: buffer) == 65536)
        #expect(sameBytes(buffer, fixture.baseContent[65536..<(2 * 65536)]))
        #expect(throws: DiskError.self) { try disk.readChunk(17, into: buffer) }
    }

    @Test func removeDeletesTheOverlayAndItsMap() throws {
        _ = try fixture.createOverlay()
        try OverlayDisk.remove(overlayPath: fixture.overlayPath())
        #expect(!FileManager.default.fileExists(atPath: fixture.overlayPath()))
        #expect(!FileManager.default.fileExists(atPath: OverlayDisk.mapPath(forOverlay: fixture.overlayPath())))
        #expect(FileManager.default.fileExists(atPath: fixture.basePath))
        try OverlayDisk.remove(overlayPath: fixture.overlayPath())
    }
}
