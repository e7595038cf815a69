import AmberCommandLine
import AmberCore
import ArgumentParser

struct Pause: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause", abstract: "Stop every vCPU and device of a running VM until `amber resume`.")

    @OptionGroup var home: HomeOption

    @Argument(help: "VM name.")
    var name: String

    @Flag(help: "Print the result as JSON.") var json = false

    func run() throws {
        try VMManager(home: home.resolved).pause(name)
        if json { return try printJSON(VMChange(vm: name, state: "paused")) }
        print("\(name) paused")
    }
}
