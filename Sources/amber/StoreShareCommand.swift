import AmberCommandLine
import AmberCore
import ArgumentParser
import Foundation

struct StoreShare: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "share",
        abstract: "Let one group read the store (a backup job copying it), or make it owner-only again.",
        discussion: """
            With --group, the store's packs, records and markers become readable by that group (directories 2750, \
            files 0640, new ones too) and the home searchable by it (0710); the catalog, the VMs' directories, the \
            restore cache, policies and the store's key slots stay owner-only, and the group can write nothing. \
            With --off, the store is owner-only again. Without either, says how the store is shared.
            """)

    @OptionGroup var home: HomeOption
    @Option(name: .long, help: "The group (name or number) that may read the store.") var group: String?
    @Flag(name: .long, help: "Make the store owner-only again.") var off = false
    @Flag(name: .long, help: "Print the result as JSON.") var json = false

    func validate() throws {
        if group != nil && off { throw ValidationError("give --group NAME or --off, not both") }
    }

    func run() throws {
        let resolved = home.resolved
        let report: StoreSharing.Report
        if let group {
            report = try StoreSharing.share(try StoreContext(home: resolved), group: group)
        } else if off {
            report = try StoreSharing.unshare(try StoreContext(home: resolved))
        } else {
            report = StoreSharing.Report(group: StoreSharing.group(of: resolved), changed: 0)
        }
        if json { return try printJSON(report) }
        let path = resolved.storeDirectory.path
        if let shared = report.group {
            print(
                "\(path) is readable by group \(shared)" + (report.changed > 0 ? " (\(report.changed) file(s) or directories changed)" : "")
            )
        } else {
            print("\(path) is owner-only" + (report.changed > 0 ? " (\(report.changed) file(s) or directories changed)" : ""))
        }
    }
}
