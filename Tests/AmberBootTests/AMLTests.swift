import Testing
@testable import AmberBoot

@Suite struct AMLTests {
    @Test func integersUseTheSmallestEncoding() {
        #expect(AML.integer(0) == [0x00])
        #expect(AML.integer(1) == [0x01])
        #expect(AML.integer(5) == [0x0A, 0x05])
        #expect(AML.integer(0x1234) == [0x0B, 0x34, 0x12])
        #expect(AML.integer(0xD000_0000) == [0x0C, 0x00, 0x00, 0x00, 0xD0])
        #expect(AML.integer(0x1_0000_0000) == [0x0E, 0, 0, 0, 0, 1, 0, 0, 0])
    }

    /// PkgLength counts its own bytes: 62 body bytes fit one byte (63); 63 need two: 65 = 0x041 is
    /// lead byte 0x41 (one more byte, low nibble 1) then 0x04; 4094 need three: 4097 = 0x01001 is
    /// lead byte 0x81 (two more bytes, low nibble 1) then 0x00, 0x01.
    @Test func packageLengthsCountThemselves() {
        #expect(AML.packageLength(0) == [0x01])
        #expect(AML.packageLength(62) == [0x3F])
        #expect(AML.packageLength(63) == [0x41, 0x04])
        #expect(AML.packageLength(4093) == [0x4F, 0xFF])
        #expect(AML.packageLength(4094) == [0x81, 0x00, 0x01])
    }

    /// Name(_S5_, Package() {5, 5, 0, 0}) as iasl assembles it.
    @Test func encodesTheS5Package() {
        let encoded = AML.name("_S5_", AML.package([AML.integer(5), AML.integer(5), AML.integer(0), AML.integer(0)]))
        #expect(encoded == [0x08, 0x5F, 0x53, 0x35, 0x5F, 0x12, 0x08, 0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00])
    }

    /// The DSDT device for virtio-mmio window 0xD0000000, GSI 5, assembled by hand:
    ///   5B 82 3A "V000"                      Device, PkgLength 58 (57 body bytes + itself)
    ///   08 "_HID" 0D "LNRO0005" 00           Name(_HID, "LNRO0005")
    ///   08 "_UID" 00                         Name(_UID, Zero)
    ///   08 "_CRS" 11 1A 0A 17                Name(_CRS, Buffer(PkgLength 26) { size 23 bytes:
    ///     86 09 00 01 00000000D0 00100000    Memory32Fixed, 9 data bytes, read-write, base, length 0x1000
    ///     89 06 00 03 01 05000000            Extended interrupt, 6 data bytes, consumer|edge, one GSI: 5
    ///     79 7F                              End tag; 0x7F makes the 23 bytes sum to 0 mod 256 })
    @Test func encodesAVirtioDeviceAsHandAssembled() {
        let device = DSDT.virtioDevice(index: 0, slot: VirtioMMIODeviceSlot(baseAddress: 0xD000_0000, gsi: 5))
        let expected: [UInt8] =
            [0x5B, 0x82, 0x3A] + Array("V000".utf8)
            + [0x08] + Array("_HID".utf8) + [0x0D] + Array("LNRO0005".utf8) + [0x00]
            + [0x08] + Array("_UID".utf8) + [0x00]
            + [0x08] + Array("_CRS".utf8) + [0x11, 0x1A, 0x0A, 0x17]
            + [0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xD0, 0x00, 0x10, 0x00, 0x00]
            + [0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00]
            + [0x79, 0x7F]
        #expect(device == expected)
    }

    @Test func deviceNamesAndUIDsFollowTheIndex() {
        let device = DSDT.virtioDevice(index: 12, slot: GuestMemoryLayout.virtioMMIODevice(index: 12))
        #expect(Array(device[3..<7]) == Array("V012".utf8))
        #expect(device.contains(0x11), "the _CRS buffer is present")
        let uid = [0x08] + Array("_UID".utf8) + [0x0A, 12]
        #expect(device.indices.contains { Array(device[$0...].prefix(uid.count)) == uid })
    }

    @Test func longBodiesGetMultiBytePackageLengths() {
        let devices = (0..<3).map { DSDT.virtioDevice(index: $0, slot: GuestMemoryLayout.virtioMMIODevice(index: $0)) }
        let scope = AML.scope("\\_SB_", devices)
        let body = 5 + devices.reduce(0) { $0 + $1.count }
        #expect(scope[0] == 0x10)
        #expect(Array(scope[1..<3]) == AML.packageLength(body))
        #expect(scope.count == 1 + 2 + body)
        #expect(Array(scope[3..<8]) == [0x5C] + Array("_SB_".utf8))
    }
}
