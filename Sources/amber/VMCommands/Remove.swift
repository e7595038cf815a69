import AmberCommandLine
import AmberCore
import ArgumentParser
import Foundation

struct Remove: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm",
        abstract: "Delete a stopped VM: its directory, logs and disk overlay (its writes). Snapshots stay in the store.")

    @OptionGroup var home: HomeOption
    @Argument(help: "VM name.") var name: String
    @Flag(help: "Print the result as JSON.") var json = false

    func run() throws {
        try VMManager(home: home.resolved).remove(name)
        if json { return try printJSON(VMChange(vm: name, state: "removed")) }
        print("\(name) removed")
    }
}
