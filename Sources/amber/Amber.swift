import AmberCore
import ArgumentParser

@main
struct Amber: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "amber",
        abstract: "Snapshot, roll back and clone KVM virtual machines.",
        subcommands: [
            ImageCommand.self,
            StoreCommand.self,
            PolicyCommand.self,
            Run.self, Ps.self, Pause.self, Resume.self, Stop.self, Logs.self, Console.self,
            SnapshotCommand.self, ListSnapshots.self, Rollback.self, Clone.self, DiskCommand.self, Remove.self,
            Prune.self,
        ]
    )

    static func main() {
        if let clone = Clone.plainInvocation(Array(CommandLine.arguments.dropFirst())) {
            do {
                try clone.run()
            } catch {
                Clone.exit(withError: error)
            }
            return
        }
        main(nil)
    }
}
