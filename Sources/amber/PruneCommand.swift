import AmberCommandLine
import AmberCore
import ArgumentParser
import Foundation

/// `amber prune [--dry-run] [VM]`: applies the policies' retention now.
struct Prune: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "prune",
        abstract: "Delete the snapshots the policies' retention no longer keeps (see `amber policy plan` for why).",
        discussion: """
            Deletes catalog rows only; `amber store gc` frees the chunks nothing else uses. Never prunes protected \
            snapshots, snapshots taken by hand, snapshots a rolled-back or cloned VM runs from, or snapshots of a VM \
            two policies match. Policies: --policies DIR, else $AMBER_POLICIES, else <home>/policies.
            """
    )

    @OptionGroup var home: HomeOption
    @OptionGroup var policies: PoliciesOption

    @Argument(help: "Only this VM's snapshots (default: every VM).")
    var vm: String?

    @Flag(name: .long, help: "Show what would be pruned, change nothing.")
    var dryRun = false

    @Flag(name: .long, help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let amberHome = home.resolved
        let set = try policies.load(home: amberHome)
        let report = try PruneService(home: amberHome).prune(policies: set, vm: vm, dryRun: dryRun)
        if json { return try printJSON(report) }
        var output = BufferedOutput()
        // Piece by piece into the buffer: a prune of a big catalog prints hundreds of thousands of lines.
        for entry in report.pruned {
            output.append(dryRun ? "would prune " : "pruned ")
            output.append(entry.id)
            output.append("  ")
            output.append(entry.vm)
            output.append("  ")
            output.appendUTC(entry.createdAt)
            output.append("  ")
            output.line(entry.reason)
        }
        let verb = dryRun ? "would prune" : "pruned"
        output.line(
            "\(verb) \(report.pruned.count) snapshot\(report.pruned.count == 1 ? "" : "s"), kept \(report.kept)"
                + (report.pruned.isEmpty || dryRun ? "" : "; run `amber store gc` to free their chunks"))
        output.flush()
    }
}
