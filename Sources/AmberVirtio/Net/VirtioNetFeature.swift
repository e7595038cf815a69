/// virtio-net feature bits, header fields and configuration values (virtio 1.x, section 5.1).
enum VirtioNetFeature {
    static let checksum: UInt64 = 1 << 0
    static let guestChecksum: UInt64 = 1 << 1
    static let mac: UInt64 = 1 << 5
    static let guestTSO4: UInt64 = 1 << 7
    static let guestTSO6: UInt64 = 1 << 8
    static let guestECN: UInt64 = 1 << 9
    static let hostTSO4: UInt64 = 1 << 11
    static let hostTSO6: UInt64 = 1 << 12
    static let hostECN: UInt64 = 1 << 13
    static let mergeableReceiveBuffers: UInt64 = 1 << 15
    static let status: UInt64 = 1 << 16
    static let controlQueue: UInt64 = 1 << 17
    static let guestAnnounce: UInt64 = 1 << 21

    static let offered: UInt64 =
        checksum | guestChecksum | mac | guestTSO4 | guestTSO6 | guestECN | hostTSO4 | hostTSO6 | hostECN
        | mergeableReceiveBuffers | status | controlQueue | guestAnnounce

    /// The accepted features, less those whose prerequisite the driver did not accept (section 5.1.3.1):
    /// a driver must not accept them alone, and the device does not use them then.
    static func usable(_ accepted: UInt64) -> UInt64 {
        var features = accepted & offered
        if features & guestChecksum == 0 { features &= ~(guestTSO4 | guestTSO6) }
        if features & (guestTSO4 | guestTSO6) == 0 { features &= ~guestECN }
        if features & checksum == 0 { features &= ~(hostTSO4 | hostTSO6) }
        if features & (hostTSO4 | hostTSO6) == 0 { features &= ~hostECN }
        if features & controlQueue == 0 { features &= ~guestAnnounce }
        return features
    }
}

/// The 12-byte `virtio_net_hdr_v1` in front of every frame, in both directions.
struct VirtioNetHeader {
    static let size = 12
    static let needsChecksumFlag: UInt8 = 1
    static let gsoNone: UInt8 = 0
    static let gsoTCPv4: UInt8 = 1
    static let gsoTCPv6: UInt8 = 4
    static let gsoECNBit: UInt8 = 0x80
    static let numberOfBuffersOffset = 10

    let flags: UInt8
    let gsoType: UInt8

    /// Whether a frame with this header may cross between the guest and the tap given `features` (the
    /// device's usable ones): a checksum to complete needs `checksumFeature`, segmentation the TSO feature of
    /// its kind (and ECN), and nothing else (UDP fragmentation, unknown kinds) is offered.
    func allowed(by features: UInt64, checksumFeature: UInt64, tso4: UInt64, tso6: UInt64, ecn: UInt64) -> Bool {
        if flags & Self.needsChecksumFlag != 0, features & checksumFeature == 0 { return false }
        if gsoType & Self.gsoECNBit != 0, features & ecn == 0 { return false }
        switch gsoType & ~Self.gsoECNBit {
        case Self.gsoNone: return gsoType == Self.gsoNone
        case Self.gsoTCPv4: return features & tso4 != 0
        case Self.gsoTCPv6: return features & tso6 != 0
        default: return false
        }
    }
}

/// The configuration space's status field and the control queue's announcement command.
enum VirtioNetStatus {
    static let linkUp: UInt16 = 1
    static let announce: UInt16 = 2
}

enum VirtioNetControl {
    static let classAnnounce: UInt8 = 3
    static let announceAcknowledge: UInt8 = 0
    static let ok: UInt8 = 0
    static let error: UInt8 = 1
}
