import AmberCore
import AmberSystem
import Foundation
import Glibc

// amber-records-bench --home DIR [--snapshots N] [--vms V]
// Fills an Amber home with N snapshots over V VMs through the write path `amber snapshot` uses (chunks, the
// store's record, the catalog row, one commit each), without booting guests: each snapshot's memory is 256 KiB
// with one chunk of its own, its machine state a few bytes of its own. 1% are protected and 2% removed (so the
// store holds protection changes and tombstones). scripts/bench-recover then times `amber store recover`.

StandardOutput.lineBuffered()
let arguments = Array(CommandLine.arguments.dropFirst())
func option(_ name: String, _ fallback: String?) -> String {
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else {
        guard let fallback else {
            StandardError.write("amber-records-bench: \(name) is required\n")
            exit(2)
        }
        return fallback
    }
    return arguments[index + 1]
}
let home = AmberHome(explicit: option("--home", nil))
let count = Int(option("--snapshots", "10000"))!
let vms = Int(option("--vms", "10"))!
let service = SnapshotService(home: home)
let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: 256 << 10, alignment: 4096)
memory.initializeMemory(as: UInt8.self, repeating: 0)
for offset in stride(from: 64 << 10, to: 128 << 10, by: 8) {
    memory.storeBytes(of: UInt64(offset) &* 0x9E37_79B9_7F4A_7C15, toByteOffset: offset, as: UInt64.self)  // shared by all
}
let start = Date(timeIntervalSince1970: 1_790_000_000)
let began = DispatchTime.now().uptimeNanoseconds
var protected = 0
var removed = 0
for index in 0..<count {
    for word in 0..<(8192 / 8) {  // the first 64 KiB chunk: this snapshot's own
        memory.storeBytes(of: UInt64(index) << 20 | UInt64(word), toByteOffset: word * 8, as: UInt64.self)
    }
    let vm = String(format: "vm-%02d", index % vms)
    let summary = try service.storeSynthetic(
        vm: vm, configJSON: "{\"name\":\"\(vm)\"}",
        created: start.addingTimeInterval(Double(index) * 60), memory: UnsafeRawBufferPointer(memory),
        state: Array("state \(index)".utf8), label: index % 10 == 0 ? "label \(index)" : nil,
        policy: index % 3 == 0 ? nil : "nightly")
    if index % 100 == 7 {
        try service.setProtected(id: summary.id, true)
        protected += 1
    } else if index % 50 == 3 {
        try service.remove(id: summary.id)
        removed += 1
    }
    if (index + 1) % 1000 == 0 {
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - began) / 1e9
        print("\(index + 1) snapshots stored in \(String(format: "%.1f", seconds)) s")
    }
}
print("done: \(count) snapshots over \(vms) VMs, \(protected) protected, \(removed) removed")
