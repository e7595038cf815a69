import AmberKVM
import AmberMachineState
import AmberSystem
import AmberVMM
import CKVM
import Foundation

// Measures what a snapshot's machine-state half costs: capturing a paused machine's state (every
// vCPU, the VM's chips, the devices) and encoding it, and building a new machine from it (new VM,
// vCPUs and every state ioctl). Memory bytes are not included: the store handles those.
// Usage: amber-state-bench [rounds]   (prints one line per measurement, times in milliseconds)

let rounds = CommandLine.arguments.count > 1 ? max(Int(CommandLine.arguments[1]) ?? 50, 1) : 50
let memoryBytes: UInt64 = 64 << 20

/// A machine whose vCPUs each count in a loop (real mode: inc dword [counter]; jmp back).
func countingMachine(vcpus: Int) throws -> Machine {
    let machine = try Machine(
        MachineConfiguration(name: "bench", memoryBytes: memoryBytes, vcpuCount: vcpus, serialOutput: { _ in }),
        regions: [GuestRAM.Region(guestAddress: 0, size: memoryBytes, fileOffset: 0)])
    for (index, vcpu) in machine.vcpus.enumerated() {
        let code = UInt64(0x1000 + index * 0x100), counter = UInt16(0x2000 + index * 4)
        try machine.memory.write([0x66, 0xFF, 0x06, UInt8(counter & 0xFF), UInt8(counter >> 8), 0xEB, 0xF9], at: code)
        var sregs = try vcpu.specialRegisters()
        sregs.cs.base = 0
        sregs.cs.selector = 0
        try vcpu.setSpecialRegisters(sregs)
        var regs = kvm_regs()
        regs.rip = code
        regs.rflags = 2
        try vcpu.setRegisters(regs)
        try vcpu.setMPState(UInt32(KVM_MP_STATE_RUNNABLE))
    }
    return machine
}

func milliseconds(_ body: () throws -> Void) rethrows -> Double {
    let start = MonotonicClock.now()
    try body()
    return (MonotonicClock.now() - start) * 1000
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

/// Times `rounds` machine builds. Each machine is torn down before the next build starts, outside
/// the timed part: closing a VM is the kernel's work, not the build's.
func timedBuilds(_ build: () throws -> Machine) rethrows -> [Double] {
    var alive: [Machine] = []
    return try (0..<rounds).map { _ in
        alive.removeAll()
        var built: Machine?
        let time = try milliseconds { built = try build() }
        alive += built.map { [$0] } ?? []
        return time
    }
}

for vcpus in [1, 4] {
    let machine = try countingMachine(vcpus: vcpus)
    try machine.start()
    Thread.sleep(forTimeInterval: 0.1)
    try machine.pause()
    var state = try machine.captureState()
    var encoded = try state.encoded()
    let capture = try (0..<rounds).map { _ in try milliseconds { state = try machine.captureState() } }
    let encode = try (0..<rounds).map { _ in try milliseconds { encoded = try state.encoded() } }
    let decode = try (0..<rounds).map { _ in try milliseconds { state = try MachineState(encoded: encoded) } }
    let memory = try MemFD.create(name: "bench-memory", size: memoryBytes)
    let restore = try timedBuilds {
        try Machine.restore(
            state: state, memory: memory, sharing: .privateCopyOnWrite,
            configuration: MachineConfiguration(
                name: "bench", memoryBytes: memoryBytes, vcpuCount: vcpus,
                serialOutput: { _ in }))
    }
    let fresh = try timedBuilds { try countingMachine(vcpus: vcpus) }
    machine.stop(.stopped)
    _ = machine.waitForExit()
    print(
        String(
            format: "vcpus=%d state_bytes=%d capture_ms=%.3f encode_ms=%.3f decode_ms=%.3f restore_ms=%.3f new_machine_ms=%.3f",
            vcpus, encoded.count, median(capture), median(encode), median(decode), median(restore), median(fresh)))
}
