import AmberSystem
import AmberTestSupport
import Foundation
import Glibc
import Testing
@testable import AmberDisk

/// Bad input to overlays: each a clear one-line error, never a crash or a wrong disk.
@Suite struct OverlayErrorTests {
    let fixture: OverlayTestFixture

    init() throws {
        fixture = try OverlayTestFixture(chunks: 4, tail: 0)
    }

    func open() throws -> OverlayDisk {
        try OverlayDisk(basePath: fixture.basePath, overlayPath: fixture.overlayPath())
    }

    var mapPath: String { OverlayDisk.mapPath(forOverlay: fixture.overlayPath()) }

    func message(_ body: () throws -> Void) -> String? {
        do {
            try body()
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func missingBase() {
        let error = message { try OverlayDisk.create(basePath: fixture.directory + "/nope.img", overlayPath: fixture.overlayPath()) }
        #expect(
            error
                == "base image \(fixture.directory)/nope.img cannot be opened (No such file or directory): check the path and its permissions"
        )
        #expect(!FileManager.default.fileExists(atPath: fixture.overlayPath()), "nothing half-created")
    }

    @Test func existingOverlayIsNotOverwritten() throws {
        let disk = try fixture.createOverlay()
        try disk.write([1], at: 0)
        try disk.flush()
        let error = message { try fixture.createOverlay() }
        #expect(error?.hasPrefix("overlay \(fixture.overlayPath()) cannot be created (File exists): remove it") == true)
        #expect(try disk.read(at: 0, count: 1) == [1])
        #expect(FileManager.default.fileExists(atPath: mapPath))
    }

    @Test func unusableChunkSize() {
        #expect(message { try fixture.createOverlay(chunkSize: 1000) }?.contains("not a power of two") == true)
        #expect(!FileManager.default.fileExists(atPath: fixture.overlayPath()))
    }

    @Test func baseOfAnotherSize() throws {
        _ = try fixture.createOverlay()
        let other = fixture.directory + "/other.img"
        _ = FileManager.default.createFile(atPath: other, contents: Data(count: 65536))
        let error = message { _ = try OverlayDisk(basePath: other, overlayPath: fixture.overlayPath()) }
        #expect(
            error
                == "base \(other) is 65536 bytes but overlay \(fixture.overlayPath()) was made over a base of 262144 bytes: pass the base the overlay was created on"
        )
    }

    @Test func baseModifiedAfterTheOverlayWasMade() throws {
        _ = try fixture.createOverlay()
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 10)], ofItemAtPath: fixture.basePath)
        #expect(message { _ = try open() }?.contains("was modified after overlay") == true)
    }

    @Test func missingMap() throws {
        _ = try fixture.createOverlay()
        unlink(mapPath)
        #expect(
            message { _ = try open() }
                == "overlay map \(mapPath) cannot be opened (No such file or directory): the overlay is incomplete or was moved without its .map file"
        )
    }

    @Test func truncatedMap() throws {
        _ = try fixture.createOverlay()
        truncate(mapPath, 5000)
        #expect(message { _ = try open() } == "overlay map \(mapPath) is truncated or has trailing bytes (5000 bytes): discard the overlay")
        truncate(mapPath, 0)
        #expect(message { _ = try open() }?.contains("is truncated") == true)
    }

    @Test func notAMap() throws {
        _ = try fixture.createOverlay()
        _ = FileManager.default.createFile(atPath: mapPath, contents: Data(repeating: 0x41, count: 8192))
        #expect(
            message { _ = try open() } == "overlay map \(mapPath) is not an Amber overlay map (bad magic): pass the overlay's .map file")
    }

    /// One damaged slot (a torn commit) falls back to the other; both damaged is refused.
    @Test func corruptMapSlots() throws {
        do {
            let disk = try fixture.createOverlay()
            try disk.write([1], at: 65536)
            try disk.flush()
            try disk.write([1], at: 3 * 65536)
            try disk.flush()
        }
        let map = try FileDescriptor.open(mapPath, O_RDWR)
        func flipByte(at offset: UInt64) throws {
            var byte: [UInt8] = [0]
            _ = try byte.withUnsafeMutableBytes { try map.read(into: $0, at: offset) }
            byte[0] ^= 0x10
            try byte.withUnsafeBytes { try map.write($0, at: offset) }
        }
        let slotSize = try map.size() / 2
        #expect(try open().overlayChunks() == [1, 3])
        try flipByte(at: 64)
        #expect(try open().overlayChunks() == [1], "the newest slot (0) is damaged: the previous commit is used")
        try flipByte(at: slotSize + 64)
        #expect(
            message { _ = try open() }
                == "overlay map \(mapPath) is corrupt (no slot passes its checksum): the overlay cannot be trusted; discard it")
    }

    @Test func overlayTruncated() throws {
        _ = try fixture.createOverlay()
        truncate(fixture.overlayPath(), 1000)
        #expect(
            message { _ = try open() }
                == "overlay \(fixture.overlayPath()) is 1000 bytes but its map describes 262144: the overlay is damaged; discard it")
    }

    @Test func overlayInUse() throws {
        let disk = try fixture.createOverlay()
        #expect(message { _ = try open() } == "overlay map \(mapPath) is in use by another process: stop the VM using it first")
        withExtendedLifetime(disk) {}
    }

    @Test func accessBeyondTheEnd() throws {
        let disk = try fixture.createOverlay()
        #expect(
            message { _ = try disk.read(at: 262_143, count: 2) }
                == "disk \(fixture.overlayPath()): 2 bytes at offset 262143 lie beyond its end (262144 bytes)")
        #expect(message { try disk.write([1], at: .max) } != nil)
        #expect(try disk.read(at: 262_143, count: 1) == [fixture.baseContent[262_143]])
    }
}
