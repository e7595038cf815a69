import AmberCore
import ArgumentParser

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Continue a paused VM.")

    @OptionGroup var home: HomeOption

    @Argument(help: "VM name.")
    var name: String

    func run() throws {
        try VMManager(home: home.resolved).resume(name)
        print("\(name) resumed")
    }
}
