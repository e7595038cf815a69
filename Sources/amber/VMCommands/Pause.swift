import AmberCore
import ArgumentParser

struct Pause: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pause", abstract: "Stop every vCPU and device of a running VM until `amber resume`.")

    @OptionGroup var home: HomeOption

    @Argument(help: "VM name.")
    var name: String

    func run() throws {
        try VMManager(home: home.resolved).pause(name)
        print("\(name) paused")
    }
}
