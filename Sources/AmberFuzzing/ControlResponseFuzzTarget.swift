#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import AmberControl
import AmberCore

/// What amber-vmm answers on its control socket, as `amber` reads it (`ControlClient`): each line taken
/// as UTF-8 text, decoded as a `ControlReply` by `ControlProtocol.decode`; a snapshot's capture then goes through the checks
/// `amber snapshot` makes before it uses one (`UntrustedCapture`), against a fixed configuration.
/// amber-vmm is untrusted here: a guest may have taken it over.
enum ControlResponseFuzzTarget {
    static let configuration = VMConfiguration(
        name: "fuzz", kernelPath: "/boot/vmlinuz", initrdPath: nil, commandLine: "console=ttyS0",
        memoryBytes: 256 << 20, vcpus: 2,
        disks: [
            DiskConfiguration(
                path: "/var/lib/amber/base.img", readOnly: false,
                overlayPath: "/var/lib/amber/vms/fuzz/disk0.overlay")
        ],
        controlSocketPath: "/run/amber/fuzz.sock", consoleLogPath: nil)

    static func run(_ bytes: UnsafeRawBufferPointer) throws {
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            let text = String(decoding: line, as: UTF8.self)
            let reply: ControlReply
            do {
                reply = try ControlProtocol.decode(ControlReply.self, from: Array(text.utf8))
            } catch {
                // amber reports a protocol violation, quoting the line or naming the version.
                try requireOneLine(error, from: "the control reply decoder")
                continue
            }
            let again = try ControlProtocol.decode(ControlReply.self, from: try ControlProtocol.line(reply).dropLast())
            try require(again == reply, "a reply, encoded and decoded again, differs")
            if case .snapshotBegun(let capture) = reply { try checkCapture(capture) }
        }
    }

    /// A capture the checks accept describes this VM's memory and disks, with page runs inside its memory.
    private static func checkCapture(_ capture: SnapshotCapture) throws {
        do {
            try UntrustedCapture.checkShape(capture, configuration: configuration, vm: configuration.name)
        } catch {
            try requireOneLine(error, from: "the capture check")
            return
        }
        try require(capture.memoryBytes == configuration.memoryBytes, "a capture of \(capture.memoryBytes) bytes of memory accepted")
        try require(capture.disks.count <= configuration.disks.count, "a capture with more disks than the VM accepted")
        let pages = Int(capture.memoryBytes / 4096)
        for run in capture.memory?.changes?.pages ?? [] {
            let (end, overflow) = run.first.addingReportingOverflow(run.count)
            try require(
                run.first >= 0 && run.count >= 0 && !overflow && end <= pages,
                "a changed-page run of \(run.count) pages from page \(run.first) accepted for \(pages) pages")
        }
    }
}
