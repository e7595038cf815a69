import AmberModel
@testable import AmberStore
import Testing

/// Numbers read from packs, manifests and the index are any 64-bit values: each bound is checked, and
/// arithmetic on them never traps.
@Suite struct BoundsTests {
    private let digest = ChunkDigest(bytes: [UInt8](repeating: 7, count: 32))!

    private func root(chunkSize: UInt32 = 65536, length: UInt64, pieces: Int) -> [UInt8] {
        var bytes = Array("AMBM".utf8)
        for word in [UInt32(1), chunkSize, 0] { withUnsafeBytes(of: word.littleEndian) { bytes += $0 } }
        for word in [length, UInt64(pieces)] { withUnsafeBytes(of: word.littleEndian) { bytes += $0 } }
        return bytes + [UInt8](repeating: 1, count: pieces * ChunkDigest.byteCount)
    }

    private func refusal(_ bytes: [UInt8]) -> String? {
        do {
            _ = try Manifest.decodeRoot(bytes, digest: digest)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func chunkCountsOfAnyLengthDoNotOverflow() {
        #expect(Manifest.chunkCount(length: .max, chunkSize: 4096) == 1 << 52)
        #expect(Manifest.chunkCount(length: 0, chunkSize: 65536) == 0)
        #expect(Manifest.chunkCount(length: 65537, chunkSize: 65536) == 2)
    }

    @Test func manifestRootsWithImpossibleNumbersAreRefusedSayingWhich() throws {
        #expect(refusal(root(length: 65536 * 2048, pieces: 1)) == nil, "a well-formed root")
        #expect(refusal(root(length: .max, pieces: 0))?.contains("does not fit its 0 pieces") == true)
        #expect(refusal(root(length: .max - 65535, pieces: 3))?.contains("does not fit its 3 pieces") == true)
        #expect(refusal(root(chunkSize: 1 << 31, length: 1 << 31, pieces: 1))?.contains("chunk size 2147483648") == true)
        #expect(refusal(root(chunkSize: 32 << 20, length: 1, pieces: 1))?.contains("chunk size") == true)
        // 4096 zero pieces of 2^19 chunks of 16 MiB: consistent, but 2^31 digests are 64 GiB.
        #expect(refusal(root(chunkSize: 16 << 20, length: 1 << 55, pieces: 4096))?.contains("lists 2147483648 chunks") == true)
        var lying = root(length: 65536, pieces: 1)
        lying[24] = 2
        #expect(refusal(lying)?.contains("root lists 2 pieces in 32 bytes") == true)
    }

    @Test func indexLocationsAreCheckedAgainstWhatARecordCanBe() {
        func location(offset: UInt64 = 16, stored: Int = 100, raw: Int = 65536, codec: ChunkCodec = .lz4) -> ChunkLocation {
            ChunkLocation(pack: "p", offset: offset, storedLength: stored, rawLength: raw, codec: codec)
        }
        #expect(location().impossibility == nil)
        #expect(location(offset: 0).impossibility != nil, "inside the file header")
        #expect(location(offset: UInt64(Int64.max) - 100).impossibility != nil, "ends past any file")
        #expect(location(offset: .max).impossibility != nil, "offset + length overflows")
        #expect(location(stored: -5).impossibility != nil)
        #expect(location(stored: 0).impossibility != nil)
        #expect(location(raw: PackFormat.maxRecordPayload + 1).impossibility != nil)
        #expect(location(stored: 100, raw: 200, codec: .raw).impossibility != nil, "a raw record is its chunk")
    }
}
