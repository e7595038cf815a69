/// Why KVM_RUN returned. The `data` pointers of I/O and MMIO exits point into the vCPU's shared
/// `kvm_run` area: valid until the next KVM_RUN, and what the guest reads is whatever is left there.
public enum VCPUExit {
    case io(PortAccess)
    case mmio(MMIOAccess)
    case halt
    /// A triple fault or another condition that resets a real CPU.
    case shutdown
    case failEntry(hardwareReason: UInt64, cpu: UInt32)
    case internalError(suberror: UInt32)
    case systemEvent(type: UInt32)
    /// KVM_RUN returned EINTR (a kick: signal with immediate_exit, or KVM_EXIT_INTR) or EAGAIN (an
    /// application processor left its wait for INIT/SIPI): nothing to handle, enter again.
    case interrupted
    case other(reason: UInt32)
}

/// One IN/OUT (or string I/O: `count` items of `size` bytes laid out back to back at `data`).
public struct PortAccess {
    public let port: UInt16
    public let size: Int
    public let isWrite: Bool
    public let count: Int
    public let data: UnsafeMutableRawPointer
}

/// One guest load or store to an address no memory slot covers.
public struct MMIOAccess {
    public let address: UInt64
    public let length: Int
    public let isWrite: Bool
    public let data: UnsafeMutableRawPointer
}

/// KVM's exit reason numbers (from <linux/kvm.h>).
enum ExitReason {
    static let io: UInt32 = 2
    static let hlt: UInt32 = 5
    static let mmio: UInt32 = 6
    static let shutdown: UInt32 = 8
    static let failEntry: UInt32 = 9
    static let intr: UInt32 = 10
    static let internalError: UInt32 = 17
    static let systemEvent: UInt32 = 24
}
