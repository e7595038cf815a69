import AmberCommandLine
import AmberCore
import ArgumentParser
import Foundation

// What the commands that change something print with --json (docs/cli-json.md), beside the reports of AmberCore.

/// `run --detach`, `stop`, `rm`, `pause`, `resume`: the VM and what became of it.
struct VMChange: Encodable {
    let vm: String
    /// "running", "stopped", "killed" (stop had to kill amber-vmm), "notRunning", "removed", "paused", "resumed".
    let state: String
    var pid: Int32?
}

/// A foreground `run` or `clone` once the VM has stopped.
struct VMExit: Encodable {
    let vm: String
    /// amber-vmm's exit code, or 128 + the signal that killed it; `amber` exits with the same.
    let exitCode: Int32
    var signal: Int32?

    /// Reports how amber-vmm ended and exits with its code, as a shell does with a child.
    static func report(vm: String, _ status: ExitStatus, json: Bool) throws -> Never {
        var exit = VMExit(vm: vm, exitCode: status.shellCode)
        if case .signaled(let signal) = status {
            exit.signal = signal
            FileHandle.standardError.write(Data("amber-vmm \(status)\n".utf8))
        }
        if json { try printJSON(exit) }
        throw ExitCode(status.shellCode)
    }
}

/// `image export`, `disk export`: the file written.
struct FileExport: Encodable {
    var image: String?
    var vm: String?
    var disk: Int?
    let path: String
    let bytes: UInt64
}

/// `image rm`.
struct ImageChange: Encodable {
    let image: String
    let action: String
}
