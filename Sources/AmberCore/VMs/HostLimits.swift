import Glibc

/// Bounds `amber run` checks requests against.
public enum HostLimits {
    /// Below this Debian's kernel and initramfs do not fit.
    public static let minimumMemoryBytes: UInt64 = 64 << 20
    public static let pageSize: UInt64 = 4096
    /// The MADT describes each vCPU by an 8-bit local APIC id, and 0xFF is the broadcast id.
    public static let maximumVCPUs = 255

    public static var physicalMemoryBytes: UInt64 {
        UInt64(sysconf(Int32(_SC_PHYS_PAGES))) * UInt64(sysconf(Int32(_SC_PAGESIZE)))
    }
}
