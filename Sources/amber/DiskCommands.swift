import AmberCommandLine
import AmberCore
import ArgumentParser
import Foundation

struct DiskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "disk", abstract: "Work with VM disks.", subcommands: [ExportDisk.self])
}

struct ExportDisk: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a VM's disk as its guest sees it (its writes over its base image) to a raw file.",
        discussion: "A running VM's disk reads as of the guest's last flush; pause the VM for an exact instant.")

    @OptionGroup var home: HomeOption
    @Argument(help: "VM name.") var name: String
    @Argument(help: "Output file (raw image; replaced if it exists).") var output: String
    @Option(help: "Which disk: 0 is vda, 1 is vdb, ...") var disk: Int = 0
    @Flag(help: "Print the result as JSON.") var json = false

    func run() throws {
        let bytes = try DiskExport(home: home.resolved).export(vm: name, disk: disk, to: output)
        if json { return try printJSON(FileExport(vm: name, disk: disk, path: output, bytes: bytes)) }
        print("disk \(disk) of \(name) written to \(output) (\(ByteFormat.string(bytes)))")
    }
}
