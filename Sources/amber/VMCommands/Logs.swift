import AmberCore
import ArgumentParser

struct Logs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "logs", abstract: "Print the serial console output of a VM started with --detach.")

    @OptionGroup var home: HomeOption

    @Argument(help: "VM name.")
    var name: String

    @Flag(name: [.short, .long], help: "Keep printing new output until the VM exits.")
    var follow = false

    func run() throws {
        try ConsoleLog(manager: VMManager(home: home.resolved)).copy(name, follow: follow)
    }
}
