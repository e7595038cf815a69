import AmberCore
import ArgumentParser
import Foundation

struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Delete a stopped VM: its directory, logs and disk overlay (its writes). Snapshots stay in the store.")

    @OptionGroup var home: HomeOption
    @Argument(help: "VM name.") var name: String

    func run() throws {
        try VMManager(home: home.resolved).remove(name)
        print("\(name) removed")
    }
}
