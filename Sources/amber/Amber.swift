import AmberCommandLine
import AmberCore
import ArgumentParser

@main
struct Amber: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "amber",
        abstract: "Snapshot, roll back and clone KVM virtual machines.",
        discussion: """
            Commands are a noun and a verb (`amber snapshot ls`, `amber image rm NAME`); the everyday VM verbs are also \
            top-level (`amber run`, `amber ps`, `amber stop`). Errors start with `error:`; exit codes: 0 success, 1 failure, \
            64 usage (an unknown option, or a VM, snapshot or image that does not exist), 65 refused, 69 a VM or guest \
            failed, 74 damage found in the store (docs/cli.md).
            """,
        version: BuildVersion.description,
        subcommands: [
            VMCommand.self,
            ImageCommand.self,
            StoreCommand.self,
            PolicyCommand.self,
            Run.self, Ps.self, Pause.self, Resume.self, Stop.self, Logs.self, Console.self,
            NetworkCommand.self,
            SnapshotCommand.self, ListSnapshots.self, Rollback.self, Clone.self, DiskCommand.self, Remove.self,
            Prune.self,
        ]
    )

    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        if let clone = Clone.plainInvocation(arguments) {
            CommandRunner.run(Amber.self, clone)
        }
        CommandRunner.main(Amber.self, arguments)
    }
}

/// `amber vm VERB`: the VM commands under their noun; `amber run`, `amber ps`, ... stay the short spellings.
struct VMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vm",
        abstract: "Run, list, stop and remove VMs (the same commands as `amber run`, `amber ps`, ...).",
        subcommands: [Run.self, VMList.self, Inspect.self, Pause.self, Resume.self, Stop.self, Logs.self, Console.self, Remove.self])
}
