import AmberCommandLine
import AmberCommandLine
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
    @Option(help: "The snapshot to return to: its id, a unique prefix, 'latest' or its label (see `amber snapshots NAME`).")
    var to: String?
    @Option(help: ArgumentHelp("Return to the newest snapshot taken at or before this time: \(TimeText.acceptedForms)."))
    var at: String?
    @Flag(name: .customLong("keep-current"), help: "Snapshot the current state first (labelled pre-rollback), to examine it later.")
    var keepCurrent = false
    @Flag(help: "Print the result as JSON.") var json = false

    func validate() throws {
        guard (to == nil) != (at == nil) else { throw ValidationError("give exactly one of --to SNAPSHOT or --at TIME") }
        if let at, TimeText.parse(at) == nil { throw ValidationError("--at '\(at)' is not a time: use \(TimeText.acceptedForms)") }
    }

    func run() throws {
        let target: RestoreService.Target
        if let to {
            target = .id(to)
        } else {
            let text = at ?? ""
            guard let date = TimeText.parse(text) else { throw ValidationError("--at '\(text)' is not a time") }
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
        if json { return try printJSON(result) }
        if let kept = result.keptCurrent { print("current state kept as snapshot \(kept.id)") }
        print(
            "\(name) rolled back to snapshot \(result.snapshot.id) (\(TimeText.utc(result.snapshot.created))), running (pid \(result.pid))")
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

    /// The option names, which the fast path (FastClone.swift) reads too.
    enum OptionName {
        static let name = "name", detach = "detach", json = "json"
    }

    @OptionGroup var home: HomeOption
    @Argument(help: ArgumentHelp(SnapshotReference.argumentHelp)) var id: String
    @Option(name: .customLong(OptionName.name), help: "Name of the new VM.") var name: String
    @Flag(name: .customLong(OptionName.detach), help: "Start in the background and return once the clone runs.") var detach = false
    @Flag(
        name: .customLong(OptionName.json),
        help: "Print the result as JSON (without --detach: once the clone has stopped, with its exit code).") var json = false

    func run() throws {
        let service = RestoreService(home: home.resolved)
        let progress = ProgressLine("taking the snapshot out of the store")
        defer { progress.finish() }
        if detach {
            let result = try service.cloneDetached(id, as: name) { progress.update($1, $2) }
            progress.finish()
            if json { return try printJSON(result) }
            return print("\(name) cloned from snapshot \(id), running (pid \(result.pid))")
        }
        let status = try service.cloneInForeground(id, as: name) { progress.update($1, $2) }
        if case .signaled = status {
            FileHandle.standardError.write(Data("amber-vmm \(status)\n".utf8))
        }
        throw ExitCode(status.shellCode)
    }
}
