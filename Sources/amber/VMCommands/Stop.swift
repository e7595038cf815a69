import AmberCommandLine
import AmberCore
import ArgumentParser
import Foundation

struct Stop: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop a VM and wait for its amber-vmm to exit (killing it after --timeout seconds).")

    @OptionGroup var home: HomeOption

    @Argument(help: "VM name.")
    var name: String

    @Option(help: "Seconds to wait for amber-vmm to exit before killing it.")
    var timeout: Double = 30

    @Flag(help: "Print the result as JSON.") var json = false

    func run() throws {
        let outcome = try VMManager(home: home.resolved).stop(name, timeout: timeout)
        switch outcome {
        case .stopped:
            if json { return try printJSON(VMChange(vm: name, state: "stopped")) }
            print("\(name) stopped")
        case .alreadyStopped:
            FileHandle.standardError.write(Data("\(name) is not running; nothing to stop\n".utf8))
            if json { try printJSON(VMChange(vm: name, state: "notRunning")) }
        case .killed(let pid):
            FileHandle.standardError.write(
                Data("amber-vmm for \(name) (pid \(pid)) did not exit within \(Int(timeout)) s and was killed\n".utf8))
            if json { return try printJSON(VMChange(vm: name, state: "killed", pid: pid)) }
            print("\(name) stopped")
        }
    }
}
