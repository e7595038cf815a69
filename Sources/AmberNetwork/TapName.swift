/// The name of a VM's tap: `amt` (or `amu`, see below) and 11 hex digits of a hash of the networks' directory, the
/// VM and the NIC's index. Stable (a VM's tap has the same name after a restart), 14 characters (Linux allows 15),
/// and different for two homes' VMs of one name. Swift's `Hasher` is seeded per process, so FNV-1a it is.
/// Each NIC has two names: a tap takes one open file at a time, and during a rollback the VM being replaced still
/// holds its tap (it is put back as it was if the restored one fails), so the restored VM opens the other one
/// (`alternate`), on the same bridge; the guest's announcement after the restore moves its MAC to it.
public enum TapName {
    public static func of(vm: String, nic: Int, networksDirectory: String, alternate: Bool = false) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in Array(networksDirectory.utf8) + [0] + Array(vm.utf8) + [0] + Array(String(nic).utf8) {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        let hex = String(hash, radix: 16)
        return (alternate ? "amu" : "amt") + String((String(repeating: "0", count: max(0, 16 - hex.count)) + hex).prefix(11))
    }

    /// Both names of NIC `nic` of `vm`.
    static func both(vm: String, nic: Int, networksDirectory: String) -> [String] {
        [false, true].map { of(vm: vm, nic: nic, networksDirectory: networksDirectory, alternate: $0) }
    }
}
