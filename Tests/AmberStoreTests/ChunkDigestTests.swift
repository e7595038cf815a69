import AmberModel
@testable import AmberStore
import Testing

@Suite struct ChunkDigestTests {
    @Test func hexRoundTripsAndMatchesSHA256() throws {
        let bytes = Array("abc".utf8)
        let digest = bytes.withUnsafeBytes { ChunkDigest.of($0) }
        #expect(digest.hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(ChunkDigest(hex: digest.hex) == digest)
        #expect(ChunkDigest(bytes: digest.bytes) == digest)
        #expect(ChunkDigest(hex: "xyz") == nil)
    }

    @Test func zeroDigestIsTheZeroSentinel() {
        #expect(ChunkDigest.zero.isZero)
        #expect(ChunkDigest.zero.hex == String(repeating: "0", count: 64))
    }

    @Test func zeroDetectionSeesASingleNonZeroByte() {
        for position in [0, 7, 15, 16, 4095, 65535] {
            var bytes = [UInt8](repeating: 0, count: 65536)
            #expect(bytes.withUnsafeBytes { isAllZero($0) })
            bytes[position] = 1
            #expect(!bytes.withUnsafeBytes { isAllZero($0) })
        }
    }
}
