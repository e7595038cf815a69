@testable import AmberCore
import AmberTestSupport
import Foundation

/// The smallest bzImage amber-vmm boots: a valid setup header (boot protocol 2.15, loaded high,
/// 64-bit entry) and a few bytes of 64-bit code at the entry point (load address 1 MiB + 0x200).
/// Real Linux cannot run on this machine's PVM /dev/kvm; these run anywhere.
enum TinyGuest {
    /// Prints a line, then resets through the i8042 (port 0x64 <- 0xFE): amber-vmm ends with
    /// "guest rebooted" and exit 0.
    static let greeting = "hello from a tiny guest\n"
    static let helloThenReboot: [UInt8] =
        [
            0x48, 0x8D, 0x35, 0x13, 0x00, 0x00, 0x00,  // lea rsi, [rip + message]
            0x66, 0xBA, 0xF8, 0x03,  // mov dx, 0x3F8 (COM1)
            0xAC,  // next: lodsb
            0x84, 0xC0,  // test al, al
            0x74, 0x03,  // jz reset
            0xEE,  // out dx, al
            0xEB, 0xF8,  // jmp next
            0xB0, 0xFE,  // reset: mov al, 0xFE
            0xE6, 0x64,  // out 0x64, al
            0xF4,  // stop: hlt
            0xEB, 0xFD,  // jmp stop
        ] + Array(greeting.utf8) + [0]

    /// Prints "t\n" every 2^18 iterations of a delay loop, forever: a guest whose progress shows
    /// in its console output.
    static let ticker: [UInt8] = [
        0x66, 0xBA, 0xF8, 0x03,  // mov dx, 0x3F8
        0xB0, 0x74,  // tick: mov al, 't'
        0xEE,  // out dx, al
        0xB0, 0x0A,  // mov al, '\n'
        0xEE,  // out dx, al
        0xBB, 0x00, 0x00, 0x04, 0x00,  // mov ebx, 0x40000
        0xFF, 0xCB,  // delay: dec ebx
        0x75, 0xFC,  // jnz delay
        0xEB, 0xEF,  // jmp tick
    ]

    /// The ticker that also counts its ticks in guest memory, in the 64-bit word at `counterAddress`:
    /// a guest whose progress shows in its memory (and so in its snapshots).
    static let counterAddress = 0x30_0000
    static let counter: [UInt8] = [
        0x66, 0xBA, 0xF8, 0x03,  // mov dx, 0x3F8
        0x48, 0xFF, 0x04, 0x25, 0x00, 0x00, 0x30, 0x00,  // tick: inc qword [0x300000]
        0xB0, 0x74,  // mov al, 't'
        0xEE,  // out dx, al
        0xB0, 0x0A,  // mov al, '\n'
        0xEE,  // out dx, al
        0xBB, 0x00, 0x00, 0x04, 0x00,  // mov ebx, 0x40000
        0xFF, 0xCB,  // delay: dec ebx
        0x75, 0xFC,  // jnz delay
        0xEB, 0xE7,  // jmp tick
    ]

    /// Echoes every byte typed into the serial port back out of it: polls the line status register
    /// for data ready, then copies the receive buffer to the transmit register.
    static let echo: [UInt8] = [
        0x66, 0xBA, 0xFD, 0x03,  // start: mov dx, 0x3FD (line status)
        0xEC,  // wait: in al, dx
        0xA8, 0x01,  // test al, 1 (data ready)
        0x74, 0xFB,  // jz wait
        0x66, 0xBA, 0xF8, 0x03,  // mov dx, 0x3F8
        0xEC,  // in al, dx
        0xEE,  // out dx, al
        0xEB, 0xEF,  // jmp start
    ]

}

extension CLIHome {
    /// Starts the counting tiny guest (`TinyGuest.counter`) detached as `name`; with `diskBytes`, with one
    /// disk of that many 0x5A bytes (so the VM has an overlay).
    func startCounter(_ name: String, memory: String = "64M", diskBytes: Int? = nil) throws {
        let kernel = try file("counter.bzImage", TinyBzImage.bytes(entryCode: TinyGuest.counter))
        let disk = try diskBytes.map { ["--disk", try file("disk-\(name).raw", [UInt8](repeating: 0x5A, count: $0))] } ?? []
        let run = try amber(["run", name, "--kernel", kernel, "--memory", memory, "--detach"] + disk, timeout: 30)
        guard run.status == 0 else { throw CLIFailure(command: "amber run \(name)", stderr: run.stderr) }
    }

    /// Waits (at most `timeout` seconds; CI machines are loaded) until the counter guest of running VM
    /// `name` has counted past `value`, read from its live memory; returns the count seen.
    @discardableResult
    func waitForCount(_ name: String, above value: UInt64, timeout: Double = 60) throws -> UInt64 {
        let memory = try GuestMemoryWindow(try ControlClient(AmberHome(explicit: root.path).vm(name)).status())
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            let count = try memory.read(at: UInt64(TinyGuest.counterAddress), count: 8).withUnsafeBytes {
                $0.loadUnaligned(as: UInt64.self)
            }
            if count > value { return count }
            guard Date() < deadline else {
                throw CLIFailure(
                    command: "waiting for VM \(name) to count past \(value)", stderr: "still at \(count) after \(Int(timeout)) s")
            }
            usleep(20_000)
        }
    }

    /// Takes a snapshot of running VM `name` with `amber snapshot --json` and returns its id.
    func snapshotID(_ name: String) throws -> String {
        let result = try amber(["snapshot", name, "--json"], timeout: 120)
        guard result.status == 0 else { throw CLIFailure(command: "amber snapshot \(name)", stderr: result.stderr) }
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        return try decoder.decode(SnapshotSummary.self, from: Data(result.stdout.utf8)).id
    }
}

/// An `amber` command a test needed to succeed failed.
struct CLIFailure: Error, CustomStringConvertible {
    let command: String
    let stderr: String
    var description: String { "\(command) failed: \(stderr)" }
}
