import AmberKVM
import AmberSystem
import CKVM
import Foundation
import Testing
@testable import AmberVMM

let kvmPresent = FileManager.default.fileExists(atPath: "/dev/kvm")

/// Collects the serial output of a machine, from whichever vCPU thread writes it.
final class SerialCapture: @unchecked Sendable {
    private let lock = ConditionLock()
    private var bytes: [UInt8] = []

    func append(_ new: [UInt8]) {
        lock.withLock {
            bytes += new
            lock.broadcast()
        }
    }

    var text: String { lock.withLock { String(decoding: bytes, as: UTF8.self) } }

    /// Waits until the output contains `needle`; returns whether it did within `seconds`.
    func waitFor(_ needle: String, seconds: Double = 10) -> Bool {
        lock.withLock {
            lock.wait(until: { String(decoding: bytes, as: UTF8.self).contains(needle) }, timeout: seconds)
        }
    }
}

/// A machine with a little RAM at address 0 whose vCPUs start in real mode at chosen addresses:
/// guests of a few bytes of machine code, written out in the tests.
struct TinyGuest {
    static let memoryBytes: UInt64 = 2 << 20
    let machine: Machine
    let serial = SerialCapture()

    init(vcpus: Int = 1) throws {
        let serial = serial
        machine = try Machine(
            MachineConfiguration(
                name: "tiny", memoryBytes: Self.memoryBytes, vcpuCount: vcpus,
                serialOutput: { serial.append($0) }),
            regions: [GuestRAM.Region(guestAddress: 0, size: Self.memoryBytes, fileOffset: 0)])
    }

    /// Places `code` at `address` and points vCPU `vcpu` at it in real mode (CS base 0), runnable.
    func load(_ code: [UInt8], at address: UInt64, vcpu index: Int = 0) throws {
        try machine.memory.write(code, at: address)
        let vcpu = machine.vcpus[index]
        var sregs = try vcpu.specialRegisters()
        sregs.cs.base = 0
        sregs.cs.selector = 0
        try vcpu.setSpecialRegisters(sregs)
        var regs = kvm_regs()
        regs.rip = address
        regs.rflags = 2
        regs.rsp = 0x8000 - UInt64(index) * 0x400
        try vcpu.setRegisters(regs)
        // Application processors wait for INIT/SIPI; a tiny guest starts them directly.
        try vcpu.setMPState(UInt32(KVM_MP_STATE_RUNNABLE))
    }

    func counter(at address: UInt64) -> UInt32 {
        machine.memory.read(UInt32.self, at: address) ?? 0
    }
}

/// Real-mode machine code, spelled out so each test reads as the program it runs.
enum RealMode {
    /// mov dx, port
    static func setDX(_ port: UInt16) -> [UInt8] { [0xBA, UInt8(port & 0xFF), UInt8(port >> 8)] }
    /// mov al, value; out dx, al
    static func outDX(_ value: UInt8) -> [UInt8] { [0xB0, value, 0xEE] }
    /// Writes `text` to the serial port at 0x3F8.
    static func print(_ text: String) -> [UInt8] { setDX(0x3F8) + text.utf8.flatMap { outDX($0) } }
    /// inc dword [address]; jmp back to it: counts forever.
    static func countForever(at address: UInt16) -> [UInt8] {
        [0x66, 0xFF, 0x06, UInt8(address & 0xFF), UInt8(address >> 8), 0xEB, 0xF9]
    }
    /// Pulses the i8042 reset line: mov al, 0xFE; out 0x64, al.
    static let resetThroughI8042: [UInt8] = [0xB0, 0xFE, 0xE6, 0x64]
    /// cli; hlt; jmp back to hlt.
    static let haltForever: [UInt8] = [0xFA, 0xF4, 0xEB, 0xFD]
}
