import AmberModel
@testable import AmberStore
import AmberTestSupport
import Testing

@Suite struct PackFormatTests {
    let header = PackRecordHeader(
        codec: .lz4, rawLength: 65536, storedLength: 1234,
        digest: ChunkDigest(hex: String(repeating: "ab", count: 32))!)

    @Test func headerRoundTrips() {
        var bytes = [UInt8](repeating: 0, count: PackFormat.recordHeaderSize)
        bytes.withUnsafeMutableBytes { header.encode(into: $0.baseAddress!) }
        let decoded = bytes.withUnsafeBytes { PackRecordHeader.decode($0) }
        #expect(decoded == .success(header))
    }

    @Test func anyFlippedHeaderByteIsDetected() {
        var bytes = [UInt8](repeating: 0, count: PackFormat.recordHeaderSize)
        bytes.withUnsafeMutableBytes { header.encode(into: $0.baseAddress!) }
        for position in 0..<PackFormat.recordHeaderSize {
            var damaged = bytes
            damaged[position] ^= 0x40
            let decoded = damaged.withUnsafeBytes { PackRecordHeader.decode($0) }
            #expect(decoded != .success(header), "flip at \(position) went unnoticed")
        }
    }

    @Test func compressionFallsBackToRawWhenItDoesNotShrink() {
        let random = TestContent.random(65536, seed: 7)
        let text = TestContent.text(65536, seed: 7)
        var out = [UInt8](repeating: 0, count: ChunkCodec.compressionBound(65536))
        let randomCodec = random.withUnsafeBytes { src in out.withUnsafeMutableBytes { ChunkCodec.compress(src, into: $0).0 } }
        let (textCodec, textSize) = text.withUnsafeBytes { src in out.withUnsafeMutableBytes { ChunkCodec.compress(src, into: $0) } }
        #expect(randomCodec == .raw)
        #expect(textCodec == .lz4)
        #expect(textSize < 65536 / 2)
        var back = [UInt8](repeating: 0, count: 65536)
        let ok = out.withUnsafeBytes { src in
            back.withUnsafeMutableBytes { ChunkCodec.decompress(UnsafeRawBufferPointer(rebasing: src[0..<textSize]), into: $0) }
        }
        #expect(ok)
        #expect(back == text)
    }
}
