import AmberControl
@testable import AmberCore
import Foundation
import Glibc
import Testing

/// `amber` opens no path amber-vmm names in a snapshot answer unless it is the VM's own.
@Suite struct UntrustedCaptureTests {
    let configuration = VMConfiguration(
        name: "u1", kernelPath: "/k", initrdPath: nil, commandLine: "", memoryBytes: 64 << 20, vcpus: 1,
        disks: [DiskConfiguration(path: "/images/base.img", readOnly: false, overlayPath: "/home/vms/u1/disk0.overlay")],
        controlSocketPath: "/home/vms/u1/control.sock", consoleLogPath: nil)

    private func capture(
        memory: String = "/proc/1/mem", pagemap: String? = nil, bytes: UInt64 = 64 << 20,
        disk: DiskCapture? = nil
    ) -> SnapshotCapture {
        SnapshotCapture(
            memoryBytes: bytes, machineState: Data(), wasPaused: false,
            disks: [
                disk
                    ?? DiskCapture(
                        basePath: "/images/base.img", overlayPath: "/home/vms/u1/disk0.overlay",
                        baseline: nil, changedChunks: [], chunkSize: 65536)
            ],
            memory: HeldMemory(
                path: memory, address: 0x7F00_0000_0000,
                untouched: pagemap.map { UntouchedPages(pagemapPath: $0) }))
    }

    private func refusal(_ capture: SnapshotCapture, vmm: Int32?) -> String? {
        do {
            try UntrustedCapture.check(capture, configuration: configuration, vmmPID: vmm, vm: "u1")
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func onlyTheVMsOwnFilesAndItsHoldersMemoryPass() throws {
        // A child of this test process stands for the memory holder amber-vmm (this process) forked.
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/sleep")
        child.arguments = ["30"]
        try child.run()
        defer { child.terminate(); child.waitUntilExit() }
        let holder = child.processIdentifier, me = getpid()
        #expect(refusal(capture(memory: "/proc/\(holder)/mem", pagemap: "/proc/\(holder)/pagemap"), vmm: me) == nil)

        let refused = [
            capture(memory: "/etc/shadow"),
            capture(memory: "/proc/\(me)/mem"),  // not a child of amber-vmm
            capture(memory: "/proc/\(holder)/../\(me)/mem"),
            capture(memory: "/proc/\(holder)/mem", pagemap: "/etc/shadow"),
            capture(memory: "/proc/\(holder)/mem", bytes: 1 << 30),
            capture(
                memory: "/proc/\(holder)/mem",
                disk: DiskCapture(
                    basePath: "/etc/shadow", overlayPath: nil, baseline: nil,
                    changedChunks: [], chunkSize: 65536)),
            capture(
                memory: "/proc/\(holder)/mem",
                disk: DiskCapture(
                    basePath: "/images/base.img", overlayPath: "/root/.ssh/id_rsa",
                    baseline: nil, changedChunks: [], chunkSize: 65536)),
        ]
        for bad in refused {
            let message = refusal(bad, vmm: me)
            #expect(message?.hasPrefix("amber-vmm of VM u1 described its snapshot with ") == true, "accepted: \(bad.memory?.path ?? "")")
        }
        #expect(refusal(capture(memory: "/proc/\(holder)/mem"), vmm: nil) != nil, "no known amber-vmm: refused")
    }

    /// A page run past the end of memory, or whose end overflows, would trap or stall `amber snapshot` in
    /// CaptureIngest (found writing the control-response fuzz target; Fuzz/corpus/control-response).
    @Test(arguments: [
        PageRun(first: Int.max, count: 2), PageRun(first: 0, count: Int.max), PageRun(first: -1, count: 1),
        PageRun(first: 16383, count: 2), PageRun(first: 5, count: -1),
    ])
    func changedPagesOutsideMemoryAreRefused(_ run: PageRun) {
        var bad = capture()
        bad.memory?.changes = MemoryChanges(baseline: "s-1", pages: [PageRun(first: 0, count: 1), run])
        #expect(refusal(bad, vmm: nil)?.contains("changed pages from page \(run.first), outside its 16384 pages of memory") == true)
        var good = capture(memory: "/etc/shadow")
        good.memory?.changes = MemoryChanges(baseline: "s-1", pages: [PageRun(first: 16383, count: 1)])
        #expect(refusal(good, vmm: nil) == "\(SnapshotError.untrustedCapture(vm: "u1", detail: "memory at /etc/shadow"))")
    }
}
