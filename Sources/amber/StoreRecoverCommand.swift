import AmberCommandLine
import AmberCore
import ArgumentParser
import Foundation

struct StoreRecover: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recover",
        abstract: "Rebuild the catalog from the store alone: the chunk index from the pack files, and images, VMs, "
            + "snapshot trees, labels, protection and policy ownership from the store's records.",
        discussion: """
            Use it when catalog.db is lost or damaged, or was replaced by an older copy: records the catalog lacks are \
            added, newer protection and removals are applied. Rows the store has no record of are kept and given one. \
            A damaged record is rewritten from the catalog's row of its object if there is one, otherwise skipped with a \
            warning (exit 0: the rest is recovered). Safe to re-run. Includes what `rebuild-index` did (kept as an alias).
            """)

    struct Options: ParsableArguments {
        @OptionGroup var home: HomeOption
        @Flag(name: .long, help: "Report what would change without changing the catalog.") var dryRun = false
        @Flag(name: .long, help: "Print the report as JSON.") var json = false
    }

    @OptionGroup var options: Options

    func run() throws {
        try Self.run(options)
    }

    static func run(_ options: Options) throws {
        let progress = ProgressLine("scanning packs")
        defer { progress.finish() }
        let report = try StoreContext.required(home: options.home.resolved, toDo: "recover").recover(
            dryRun: options.dryRun, progress: progress.update)
        progress.finish()
        for damaged in report.damagedRecords {
            FileHandle.standardError.write(Data("amber: warning: skipped damaged \(damaged.description)\n".utf8))
        }
        if options.json { return try printJSON(report) }
        let index = report.index
        print(
            "indexed \(index.chunks) chunk(s) in \(index.packs) pack(s); \(index.damagedRecords) damaged record(s) left out"
                + (index.tornPacks.isEmpty ? "" : "; torn tails in \(index.tornPacks.joined(separator: ", "))"))
        let counts = report.records
        print("records: \(counts.vms) VM(s), \(counts.images) image(s), \(counts.snapshots) snapshot(s), \(counts.removed) removal(s)")
        let verb = options.dryRun ? "would " : ""
        if report.changedCatalog {
            print("catalog: \(verb)add \(report.added.count), \(verb)update \(report.updated.count), \(verb)remove \(report.removed.count)")
            for line in report.added.prefix(20) { print("  + \(line)") }
            for line in report.updated.prefix(20) { print("  ~ \(line)") }
            for line in report.removed.prefix(20) { print("  - \(line)") }
        } else {
            print("catalog: already agrees with the records")
        }
        if !report.recordsWritten.isEmpty {
            print("\(options.dryRun ? "would give" : "gave") \(report.recordsWritten.count) catalog row(s) without a record one")
        }
        if !report.recordsRepaired.isEmpty {
            print(
                "\(options.dryRun ? "would rewrite" : "rewrote") \(report.recordsRepaired.count) damaged record(s) from the catalog: "
                    + report.recordsRepaired.joined(separator: ", "))
        }
        if !report.vmsWithoutConfiguration.isEmpty {
            print(
                "no readable record of VM(s) \(report.vmsWithoutConfiguration.joined(separator: ", ")): "
                    + "their snapshots are listed, but rollback and clone need the VM's configuration")
        }
        let seconds = report.seconds
        print(
            String(
                format: "took %.2f s: packs %.2f s, records %.2f s, catalog %.2f s; ",
                seconds.packs + seconds.records + seconds.catalog, seconds.packs, seconds.records, seconds.catalog)
                + "run `amber store verify` to check every image and snapshot")
    }
}
