import CKVM

/// `struct kvm_cpuid2` with its flexible array of entries, which Swift cannot import: a raw buffer
/// of an 8-byte header followed by 40-byte `kvm_cpuid_entry2` records.
final class CPUIDBuffer {
    let raw: UnsafeMutableRawPointer
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        let size = MemoryLayout<kvm_cpuid2>.size + capacity * MemoryLayout<kvm_cpuid_entry2>.stride
        raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        raw.storeBytes(of: UInt32(capacity), as: UInt32.self)
    }

    convenience init(entries: [kvm_cpuid_entry2]) {
        self.init(capacity: entries.count)
        let base = raw + MemoryLayout<kvm_cpuid2>.size
        for (index, entry) in entries.enumerated() {
            base.storeBytes(of: entry, toByteOffset: index * MemoryLayout<kvm_cpuid_entry2>.stride, as: kvm_cpuid_entry2.self)
        }
    }

    deinit {
        raw.deallocate()
    }

    var entries: [kvm_cpuid_entry2] {
        let count = min(Int(raw.load(as: UInt32.self)), capacity)
        let base = raw + MemoryLayout<kvm_cpuid2>.size
        return (0..<count).map {
            base.load(fromByteOffset: $0 * MemoryLayout<kvm_cpuid_entry2>.stride, as: kvm_cpuid_entry2.self)
        }
    }
}
