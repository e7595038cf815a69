import AmberSystem
import CKVM
import Glibc

/// The KVM system handle (/dev/kvm): capabilities, what the host supports, and VM creation.
public final class KVMSystem: Sendable {
    public static let defaultPath = "/dev/kvm"
    /// The stable KVM API version; every kernel since 2.6.22 reports it.
    public static let apiVersion: Int32 = 12

    public let descriptor: FileDescriptor

    public init(path: String = KVMSystem.defaultPath) throws {
        let fd = Glibc.open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { throw KVMError.unavailable(path: path, errno: errno) }
        descriptor = FileDescriptor(owning: fd)
        let version = try kvmIOControl(fd, CKVM_GET_API_VERSION, nil, "KVM_GET_API_VERSION")
        guard version == Self.apiVersion else { throw KVMError.unsupportedAPIVersion(version) }
    }

    /// KVM_CHECK_EXTENSION: 0 when the capability is absent, otherwise a capability-specific value.
    public func checkExtension(_ capability: Int32) -> Int32 {
        (try? kvmIOControl(descriptor.rawValue, CKVM_CHECK_EXTENSION, value: UInt64(capability), "KVM_CHECK_EXTENSION")) ?? 0
    }

    /// Throws `missingCapability` unless every capability is present.
    public func require(_ capabilities: [(Int32, String)]) throws {
        for (capability, name) in capabilities where checkExtension(capability) == 0 {
            throw KVMError.missingCapability(name)
        }
    }

    /// The size of each vCPU's shared `kvm_run` area.
    public func vcpuMmapSize() throws -> Int {
        Int(try kvmIOControl(descriptor.rawValue, CKVM_GET_VCPU_MMAP_SIZE, nil, "KVM_GET_VCPU_MMAP_SIZE"))
    }

    /// The CPUID leaves this host and KVM can offer a guest.
    public func supportedCPUID() throws -> [kvm_cpuid_entry2] {
        var capacity = 128
        while true {
            let buffer = CPUIDBuffer(capacity: capacity)
            do {
                try kvmIOControl(descriptor.rawValue, CKVM_GET_SUPPORTED_CPUID, buffer.raw, "KVM_GET_SUPPORTED_CPUID")
                return buffer.entries
            } catch let error as KVMError where error.errno == E2BIG && capacity < 4096 {
                capacity *= 2
            }
        }
    }

    /// The MSRs KVM can save and restore for a vCPU.
    public func msrIndexList() throws -> [UInt32] {
        var capacity = 256
        while true {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: 4 + 4 * capacity, alignment: 8)
            defer { raw.deallocate() }
            raw.storeBytes(of: UInt32(capacity), as: UInt32.self)
            do {
                try kvmIOControl(descriptor.rawValue, CKVM_GET_MSR_INDEX_LIST, raw, "KVM_GET_MSR_INDEX_LIST")
            } catch let error as KVMError where error.errno == E2BIG && capacity < 65536 {
                capacity *= 4
                continue
            }
            let count = Int(raw.load(as: UInt32.self))
            return (0..<count).map { raw.load(fromByteOffset: 4 + 4 * $0, as: UInt32.self) }
        }
    }

    public func createVM() throws -> KVMVirtualMachine {
        let fd = try kvmIOControl(descriptor.rawValue, CKVM_CREATE_VM, value: 0, "KVM_CREATE_VM")
        return KVMVirtualMachine(descriptor: FileDescriptor(owning: fd), system: self)
    }
}
