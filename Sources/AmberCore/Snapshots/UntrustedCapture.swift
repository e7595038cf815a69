import AmberControl
import Foundation

/// amber-vmm's answer to `snapshotBegin` is untrusted (a guest may have taken amber-vmm over): before `amber`,
/// which may be root, opens any path in it, the paths must be the VM's own: its disks and overlays as the
/// configuration `amber` wrote names them, and the memory of a child of the VM's amber-vmm (whose pid the
/// kernel's lock table gives, not amber-vmm). Anything else refuses the snapshot.
package enum UntrustedCapture {
    static func check(_ capture: SnapshotCapture, configuration: VMConfiguration, vmmPID: Int32?, vm: String) throws {
        func refuse(_ detail: String) -> SnapshotError { .untrustedCapture(vm: vm, detail: detail) }
        try checkShape(capture, configuration: configuration, vm: vm)
        guard let memory = capture.memory else { return }
        guard let holder = processID(in: memory.path, file: "mem"), let vmmPID, parent(of: holder) == vmmPID else {
            throw refuse("memory at \(memory.path)")
        }
        if let pagemap = memory.untouched?.pagemapPath, processID(in: pagemap, file: "pagemap") != holder {
            throw refuse("a page map at \(pagemap)")
        }
    }

    /// What can be checked without looking at processes: sizes, counts and disks against the configuration.
    package static func checkShape(_ capture: SnapshotCapture, configuration: VMConfiguration, vm: String) throws {
        func refuse(_ detail: String) -> SnapshotError { .untrustedCapture(vm: vm, detail: detail) }
        guard capture.memoryBytes == configuration.memoryBytes else {
            throw refuse("\(capture.memoryBytes) bytes of memory (its configuration has \(configuration.memoryBytes))")
        }
        let disks = capture.disks
        guard disks.count <= configuration.disks.count else { throw refuse("\(disks.count) disks") }
        for (disk, configured) in zip(disks, configuration.disks)
        where disk.basePath != configured.path || disk.overlayPath != configured.overlayPath {
            throw refuse("disk \(disk.basePath) over \(disk.overlayPath ?? "no overlay")")
        }
        // CaptureIngest walks each run chunk by chunk: one past the end of memory (or whose end overflows)
        // would trap `amber snapshot` or keep it looping.
        let pages = Int(capture.memoryBytes / 4096)
        for run in capture.memory?.changes?.pages ?? [] {
            let (end, overflow) = run.first.addingReportingOverflow(run.count)
            guard run.first >= 0, run.count >= 0, !overflow, end <= pages else {
                throw refuse("a run of \(run.count) changed pages from page \(run.first), outside its \(pages) pages of memory")
            }
        }
    }

    /// N of `/proc/N/<file>`, nothing else.
    private static func processID(in path: String, file: String) -> Int32? {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0].isEmpty, parts[1] == "proc", parts[3] == file,
            parts[2].allSatisfy(\.isASCII), let pid = Int32(parts[2]), pid > 0
        else { return nil }
        return pid
    }

    /// The parent pid the kernel reports in /proc/PID/stat (after the command name, which may hold spaces).
    private static func parent(of pid: Int32) -> Int32? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let nameEnd = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: nameEnd)...].split(separator: " ")
        return fields.count > 1 ? Int32(fields[1]) : nil
    }
}
