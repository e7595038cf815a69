import AmberCommandLine
import AmberCore
import ArgumentParser

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Continue a paused VM.")

    @OptionGroup var home: HomeOption

    @Argument(help: "VM name.")
    var name: String

    @Flag(help: "Print the result as JSON.") var json = false

    func run() throws {
        try VMManager(home: home.resolved).resume(name)
        if json { return try printJSON(VMChange(vm: name, state: "resumed")) }
        print("\(name) resumed")
    }
}
