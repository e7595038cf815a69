import Glibc

/// Everything that can go wrong talking to KVM, each as one line naming the operation.
public enum KVMError: Error, CustomStringConvertible, Equatable {
    /// /dev/kvm could not be opened.
    case unavailable(path: String, errno: Int32)
    /// The kernel speaks a KVM API other than the stable version 12.
    case unsupportedAPIVersion(Int32)
    /// A capability the VMM relies on is missing.
    case missingCapability(String)
    /// An ioctl failed.
    case ioctl(operation: String, errno: Int32)
    /// KVM_SET_MSRS stopped before the end: the entry at `failedIndex` was refused.
    case msrRefused(msr: UInt32, failedIndex: Int)

    public var description: String {
        switch self {
        case .unavailable(let path, let code):
            return "cannot open \(path): \(String(cString: strerror(code))) (is KVM enabled and are you allowed to use it?)"
        case .unsupportedAPIVersion(let version):
            return "KVM API version \(version) is not the supported version 12"
        case .missingCapability(let name):
            return "this KVM lacks the capability \(name), which amber-vmm needs"
        case .ioctl(let operation, let code):
            return "\(operation): \(String(cString: strerror(code)))"
        case .msrRefused(let msr, let index):
            return "KVM_SET_MSRS refused MSR 0x\(String(msr, radix: 16)) (entry \(index))"
        }
    }

    /// The errno of a failed ioctl, if this is one.
    public var errno: Int32? {
        if case .ioctl(_, let code) = self { return code }
        return nil
    }
}
