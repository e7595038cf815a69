import AmberCore
import AmberPolicy
import Testing

@Suite("Sizes and VM names")
struct VMInputTests {
    static let sizes: [(String, UInt64)] = [
        ("268435456", 268_435_456), ("1024K", 1 << 20), ("512M", 512 << 20), ("512m", 512 << 20),
        ("512MiB", 512 << 20), ("512MB", 512 << 20), ("1G", 1 << 30), ("2g", 2 << 30), ("1GiB", 1 << 30),
        ("1T", 1 << 40), ("4096B", 4096), ("0", 0), ("20G", 20 << 30), ("20GiB", 20 << 30), ("20GB", 20 << 30),
    ]

    @Test("accepted size forms", arguments: sizes)
    func parses(text: String, bytes: UInt64) {
        #expect(ByteSize.parse(text) == bytes)
    }

    @Test(
        "garbage is not a size",
        arguments: [
            "", "abc", "M", "12X", "1.5G", "-1G", " 512M", "512 M", "512Mi", "512MiBs", "1GG", "99999999999999999999",
            "17179869184T",
        ])
    func rejects(text: String) {
        #expect(ByteSize.parse(text) == nil)
    }

    @Test func describesSizes() {
        #expect(ByteFormat.string(UInt64(512 << 20)) == "512 MiB")
        #expect(ByteFormat.string(UInt64(1536 << 20)) == "1.50 GiB")
        #expect(ByteFormat.string(UInt64(100)) == "100 B")
        #expect(ByteFormat.string(UInt64(1 << 40)) == "1 TiB")
    }

    @Test("valid names", arguments: ["web1", "a", "A.b_c-d", "0vm", String(repeating: "x", count: 64)])
    func acceptsName(name: String) throws {
        try VMName.validate(name)
    }

    @Test(
        "invalid names",
        arguments: [
            "", ".", "..", ".hidden", "-x", "_x", "a/b", "a b", "web1\n", "vm:1", "é", String(repeating: "x", count: 65),
        ])
    func rejectsName(name: String) {
        #expect(throws: VMRequestError.invalidName(name)) { try VMName.validate(name) }
    }
}
