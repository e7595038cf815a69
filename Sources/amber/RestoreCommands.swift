import AmberCore
import ArgumentParser
import Foundation

struct Rollback: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollback",
        abstract: "Return a VM to one of its snapshots: memory, vCPUs, devices and disk, without a guest reboot.",
        discussion: """
        The snapshot is taken out of the store and checked before the VM is touched: a damaged snapshot is refused \
        and the VM keeps running as it was. Then the VM is stopped and started again from the snapshot's instant, \
        in the background (console in `amber logs NAME`). Disk writes made since the snapshot are discarded; \
        with --keep-current the current state is snapshotted first. A VM that is not running is started from the snapshot.
        """)

    @OptionGroup var home: HomeOption
    @Argument(help: "VM name.") var name: String
    @Option(help: "Snapshot id to return to, or a unique prefix of it (see `amber snapshots NAME`).") var to: String?
    @Option(help: "Return to the newest snapshot taken at or before this local time: \"2026-11-26 14:00\", \"2026-11-26 14:00:30\" or ISO 8601.")
    var at: String?
    @Flag(name: .customLong("keep-current"), help: "Snapshot the current state first (labelled pre-rollback), to examine it later.")
    var keepCurrent = false
    @Flag(help: "Print the result as JSON.") var json = false

    func validate() throws {
        guard (to == nil) != (at == nil) else { throw ValidationError("give exactly one of --to ID or --at TIME") }
    }

    func run() throws {
        let target: RestoreService.Target
        if let to {
            target = .id(to)
        } else {
            let text = at ?? ""
            guard let date = TimeArgument.parse(text) else {
                throw ValidationError("--at '\(text)' is not a time: use \"YYYY-MM-DD HH:MM[:SS]\" (local time) or ISO 8601")
            }
            target = .at(date, text: text)
        }
        let progress = ProgressLine("taking the snapshot out of the store")
        let result: RestoreService.RollbackResult
        do {
            defer { progress.finish() }
            result = try RestoreService(home: home.resolved).rollback(vm: name, to: target, keepCurrent: keepCurrent) {
                progress.update($1, $2)
            }
        }
        if json { return try StoreCLI.printJSON(result) }
        if let kept = result.keptCurrent { print("current state kept as snapshot \(kept.id)") }
        print("\(name) rolled back to snapshot \(result.snapshot.id) (\(ISO8601DateFormatter().string(from: result.snapshot.created))), running (pid \(result.pid))")
    }
}

struct Clone: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "clone",
        abstract: "Start a new VM from a snapshot, continuing from the snapshot's instant.",
        discussion: """
        The snapshot's memory is taken out of the store once and shared copy-on-write by every clone of it; \
        each clone gets its own disk overlay over the snapshot's disk, so clones and the origin never see each \
        other's writes. Clones keep the origin's identity (hostname, machine id, random state): change what must differ inside the guest.
        """)

    @OptionGroup var home: HomeOption
    @Argument(help: "Snapshot id, or a unique prefix of it (see `amber snapshots`).") var id: String
    @Option(help: "Name of the new VM.") var name: String
    @Flag(help: "Start in the background and return once the clone runs.") var detach = false
    @Flag(help: "With --detach: print the result as JSON.") var json = false

    func run() throws {
        let service = RestoreService(home: home.resolved)
        let progress = ProgressLine("taking the snapshot out of the store")
        defer { progress.finish() }
        if detach {
            let result = try service.cloneDetached(id, as: name) { progress.update($1, $2) }
            progress.finish()
            if json { return try StoreCLI.printJSON(result) }
            return print("\(name) cloned from snapshot \(id), running (pid \(result.pid))")
        }
        let status = try service.cloneInForeground(id, as: name) { progress.update($1, $2) }
        if case .signaled = status {
            FileHandle.standardError.write(Data("amber-vmm \(status)\n".utf8))
        }
        throw ExitCode(status.shellCode)
    }
}

/// Times as users type them for `--at`: local "YYYY-MM-DD HH:MM[:SS]" or ISO 8601 with a zone.
enum TimeArgument {
    static func parse(_ text: String) -> Date? {
        if let date = ISO8601DateFormatter().date(from: text) { return date }
        for format in ["yyyy-MM-dd HH:mm:ss", "yyyy-MM-dd HH:mm", "yyyy-MM-dd'T'HH:mm:ss", "yyyy-MM-dd'T'HH:mm"] {
            let formatter = DateFormatter()
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.timeZone = .current
            formatter.dateFormat = format
            if let date = formatter.date(from: text) { return date }
        }
        return nil
    }
}
