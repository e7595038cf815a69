import AmberCore
import ArgumentParser
import Foundation

struct Console: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "console",
        abstract: "Attach this terminal to a running VM's serial console; \(ConsoleSession.escapeName) detaches.")

    @OptionGroup var home: HomeOption

    @Argument(help: "VM name.")
    var name: String

    func run() throws {
        let session = ConsoleSession(manager: VMManager(home: home.resolved))
        let ending = try session.attach(name) {
            FileHandle.standardError.write(Data("Connected to \(name)'s console; \(ConsoleSession.escapeName) detaches.\n".utf8))
        }
        let message = ending == .detached ? "Detached from \(name)." : "\(name)'s console closed (the VM stopped)."
        FileHandle.standardError.write(Data("\r\n\(message)\n".utf8))
    }
}
