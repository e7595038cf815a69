import AmberSystem
import AmberTestSupport
import Foundation
import Testing
@testable import AmberVMM

@Suite("Machine on /dev/kvm with tiny guests", .enabled(if: kvmPresent), .serialized)
struct MachineTests {
    @Test func serialOutputArrives() throws {
        let guest = try TinyGuest()
        try guest.load(RealMode.print("hello") + RealMode.resetThroughI8042 + RealMode.haltForever, at: 0x1000)
        try guest.machine.start()
        #expect(guest.machine.waitForExit() == .rebooted)
        #expect(guest.serial.text == "hello")
    }

    @Test func pauseStopsProgressAndResumeContinues() throws {
        let guest = try TinyGuest()
        try guest.load(RealMode.countForever(at: 0x2000), at: 0x1000)
        try guest.machine.start()
        defer { guest.machine.stop(.stopped); _ = guest.machine.waitForExit() }
        #expect(eventually(within: 30) { guest.counter(at: 0x2000) > 0 }, "the guest counts")
        try guest.machine.pause()
        #expect(guest.machine.currentState == .paused)
        let whenPaused = guest.counter(at: 0x2000)
        #expect(whenPaused > 0)
        Thread.sleep(forTimeInterval: 0.3)
        #expect(guest.counter(at: 0x2000) == whenPaused)
        try guest.machine.resume()
        #expect(eventually(within: 30) { guest.counter(at: 0x2000) > whenPaused }, "the guest counts on")
    }

    @Test func pausingTwiceIsRefusedClearly() throws {
        let guest = try TinyGuest()
        try guest.load(RealMode.countForever(at: 0x2000), at: 0x1000)
        try guest.machine.start()
        defer { guest.machine.stop(.stopped); _ = guest.machine.waitForExit() }
        try guest.machine.pause()
        #expect(throws: MachineError("VM tiny is paused, not running: nothing to pause")) { try guest.machine.pause() }
        try guest.machine.resume()
        #expect(throws: MachineError("VM tiny is running, not paused: nothing to resume")) { try guest.machine.resume() }
    }

    @Test func twoVCPUsBothRun() throws {
        let guest = try TinyGuest(vcpus: 2)
        try guest.load(RealMode.countForever(at: 0x2000), at: 0x1000, vcpu: 0)
        try guest.load(RealMode.countForever(at: 0x2004), at: 0x1100, vcpu: 1)
        try guest.machine.start()
        _ = eventually(within: 30) { guest.counter(at: 0x2000) > 0 && guest.counter(at: 0x2004) > 0 }
        try guest.machine.pause()
        let first = guest.counter(at: 0x2000), second = guest.counter(at: 0x2004)
        guest.machine.stop(.stopped)
        #expect(guest.machine.waitForExit() == .stopped)
        #expect(first > 0)
        #expect(second > 0)
    }

    @Test func vcpuWaitingForStartupIPIPausesAndStops() throws {
        // vCPU 1 stays in its reset state, blocked inside KVM_RUN until a SIPI that never comes;
        // KVM ignores immediate_exit there, so only the kick signal can bring it out.
        for _ in 0..<5 {
            let guest = try TinyGuest(vcpus: 2)
            try guest.load(RealMode.countForever(at: 0x2000), at: 0x1000, vcpu: 0)
            try guest.machine.start()
            try guest.machine.pause()
            try guest.machine.resume()
            guest.machine.stop(.stopped)
            #expect(guest.machine.waitForExit() == .stopped)
        }
    }

    @Test func unclaimedPortsReadAllOnesAndAreCounted() throws {
        let guest = try TinyGuest()
        // in al, 0x99; mov [0x2000], al; mov dx, 0x9A; in ax, dx; mov [0x2002], ax; out 0x9B, al; reset
        let code: [UInt8] = [0xE4, 0x99, 0xA2, 0x00, 0x20] + RealMode.setDX(0x9A) + [0xED, 0xA3, 0x02, 0x20, 0xE6, 0x9B]
        try guest.load(code + RealMode.resetThroughI8042 + RealMode.haltForever, at: 0x1000)
        try guest.machine.start()
        #expect(guest.machine.waitForExit() == .rebooted)
        #expect(guest.machine.memory.read(UInt8.self, at: 0x2000) == 0xFF)
        #expect(guest.machine.memory.read(UInt16.self, at: 0x2002) == 0xFFFF)
        #expect(guest.machine.ports.unclaimedAccesses.reads == 2)
        #expect(guest.machine.ports.unclaimedAccesses.writes == 1)
    }

    @Test func unclaimedMMIOReadsAllOnesAndIsCounted() throws {
        let guest = try TinyGuest()
        let code: [UInt8] = [
            0x26, 0x66, 0xA1, 0x00, 0x00,  // mov eax, es:[0]
            0x66, 0xA3, 0x00, 0x20,  // mov [0x2000], eax
            0x26, 0x66, 0xA3, 0x10, 0x00,
        ]  // mov es:[0x10], eax
        try guest.load(code + RealMode.resetThroughI8042 + RealMode.haltForever, at: 0x1000)
        // ES points past the 2 MiB of RAM, where no device sits.
        var sregs = try guest.machine.vcpus[0].specialRegisters()
        sregs.es.base = 0x30_0000
        try guest.machine.vcpus[0].setSpecialRegisters(sregs)
        try guest.machine.start()
        #expect(guest.machine.waitForExit() == .rebooted)
        #expect(guest.machine.memory.read(UInt32.self, at: 0x2000) == 0xFFFF_FFFF)
        #expect(guest.machine.mmio.unclaimedAccesses.reads == 1)
        #expect(guest.machine.mmio.unclaimedAccesses.writes == 1)
    }

    @Test func serialInputReachesTheGuest() throws {
        let guest = try TinyGuest()
        // Poll LSR until data is ready, read RBR, echo it back, forever.
        let code: [UInt8] =
            RealMode.setDX(0x3FD) + [0xEC, 0xA8, 0x01, 0x74, 0xFB]  // in al,dx; test al,1; jz -5
            + RealMode.setDX(0x3F8) + [0xEC, 0xEE]  // in al,dx; out dx,al
            + [0xEB, 0xF1]  // jmp to the start
        try guest.load(code, at: 0x1000)
        try guest.machine.start()
        defer { guest.machine.stop(.stopped); _ = guest.machine.waitForExit() }
        guest.machine.serial.receive(Array("ping".utf8))
        #expect(guest.serial.waitFor("ping"))
    }
}
