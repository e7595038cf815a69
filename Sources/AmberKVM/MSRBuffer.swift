import AmberMachineState
import CKVM

/// `struct kvm_msrs` with its flexible array: an 8-byte header then 16-byte `kvm_msr_entry` records.
final class MSRBuffer {
    let raw: UnsafeMutableRawPointer
    let count: Int

    init(entries: [MSREntry]) {
        count = entries.count
        let size = MemoryLayout<kvm_msrs>.size + count * MemoryLayout<kvm_msr_entry>.stride
        raw = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 8)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: size)
        raw.storeBytes(of: UInt32(count), as: UInt32.self)
        let base = raw + MemoryLayout<kvm_msrs>.size
        for (position, entry) in entries.enumerated() {
            var record = kvm_msr_entry()
            record.index = entry.index
            record.data = entry.value
            base.storeBytes(of: record, toByteOffset: position * MemoryLayout<kvm_msr_entry>.stride, as: kvm_msr_entry.self)
        }
    }

    deinit {
        raw.deallocate()
    }

    var entries: [MSREntry] {
        let base = raw + MemoryLayout<kvm_msrs>.size
        return (0..<count).map {
            let record = base.load(fromByteOffset: $0 * MemoryLayout<kvm_msr_entry>.stride, as: kvm_msr_entry.self)
            return MSREntry(index: record.index, value: record.data)
        }
    }
}
