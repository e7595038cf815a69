import AmberCommandLine
import AmberCore
import ArgumentParser
import Foundation

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Inspect, check and clean the chunk store.",
        subcommands: [
            StoreInit.self, StoreStats.self, StoreVerify.self, StoreRepair.self, StoreShare.self, StoreGC.self, StoreRecover.self,
            StoreRebuildIndex.self, StoreKey.self,
        ]
    )
}

struct StoreStats: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stats", abstract: "Chunks, packs, logical vs stored bytes, ratios.")

    @OptionGroup var home: HomeOption
    @Flag(name: .long, help: "Print the statistics as JSON.") var json = false

    func run() throws {
        let stats = try StoreContext.existing(home: home.resolved)?.statistics() ?? .empty
        if json { return try printJSON(stats) }
        print(
            """
            images        \(stats.images)
            snapshots     \(stats.snapshots)
            chunks        \(stats.chunks) (\(ByteFormat.string(stats.chunkSize)) each)
            packs         \(stats.packs)
            logical       \(ByteFormat.string(stats.logicalBytes))
            unique        \(ByteFormat.string(stats.uniqueBytes))   dedup+zero \(ByteFormat.ratio(stats.dedupRatio))
            stored        \(ByteFormat.string(stats.storedBytes))   compression \(ByteFormat.ratio(stats.compressionRatio))
            pack files    \(ByteFormat.string(stats.packFileBytes))   overall \(ByteFormat.ratio(stats.overallRatio))
            """)
    }
}

struct StoreVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Decompress and re-hash every chunk, check every record against the chunks it names; name what is bad (exit 1 if any).")

    @OptionGroup var home: HomeOption
    @Flag(name: .long, help: "Print the report as JSON.") var json = false

    func run() throws {
        try StoreCLI.check(
            json: json, { try StoreContext.required(home: home.resolved, toDo: "verify").verify(progress: $0.update) }, isClean: \.isClean,
            text: { report in
                for bad in report.badChunks {
                    let place = bad.pack.map { " (pack \($0), offset \(bad.offset ?? 0))" } ?? ""
                    let users = bad.dependents.isEmpty ? "nothing references it" : "needed by " + bad.dependents.joined(separator: ", ")
                    print("BAD chunk \(bad.digest)\(place): \(bad.problem); \(users)")
                }
                for problem in report.recordProblems { print(problem.line) }
                if !report.rebuiltPlanningSummaries.isEmpty {
                    print(
                        "planning summaries of \(report.rebuiltPlanningSummaries.count) VM(s) disagreed with their snapshot rows and were rebuilt from them: \(report.rebuiltPlanningSummaries.joined(separator: ", "))"
                    )
                }
                if !report.quarantined.isEmpty {
                    print(
                        "quarantined \(report.quarantined.count) bad chunk(s): the next import or snapshot of the same content "
                            + "stores it again (re-import a damaged image from its source); until then what needs it stays damaged")
                }
                if report.isClean {
                    print(
                        "ok: \(report.checkedChunks) chunks (\(ByteFormat.string(report.checkedBytes))) and \(report.checkedRecords) records verified"
                    )
                }
                if !report.badChunks.isEmpty {
                    print(
                        "\(report.badChunks.count) bad chunk(s) of \(report.checkedChunks); damaged: \(report.damaged.joined(separator: ", "))"
                    )
                }
                if !report.recordProblems.isEmpty {
                    print("\(report.recordProblems.count) record problem(s) in \(report.checkedRecords) records")
                }
            })
    }
}

struct StoreGC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc", abstract: "Free chunks neither the catalog nor the store's records reference; report bytes freed.")

    @OptionGroup var home: HomeOption
    @Flag(name: .long, help: "Report what would be freed without freeing it.") var dryRun = false
    @Flag(name: .long, help: "Print the report as JSON.") var json = false

    func run() throws {
        let report = try StoreContext.required(home: home.resolved, toDo: "collect").collectGarbage(dryRun: dryRun)
        let cacheFreed = dryRun ? 0 : try SnapshotService(home: home.resolved).removeUnusedCache()
        if json { return try printJSON(report) }
        let verb = dryRun ? "would free" : "freed"
        print(
            "\(verb) \(ByteFormat.string(report.bytesFreed)): \(report.deadChunks) unreferenced chunk(s), "
                + "\(report.packsDeleted) empty pack(s), \(report.packsRewritten) pack(s) rewritten, "
                + "\(report.orphanPacks) orphan pack(s), \(ByteFormat.string(report.tornTailBytes)) of torn pack tails; "
                + "\(report.liveChunks) chunk(s) live"
                + (cacheFreed > 0 ? "; and \(ByteFormat.string(cacheFreed)) of removed snapshots taken out for rollback or clone" : ""))
        if !report.recordsNotInCatalog.isEmpty {
            print(
                "kept the chunks of \(report.recordsNotInCatalog.count) record(s) in the store that the catalog lacks "
                    + "(\(report.recordsNotInCatalog.prefix(5).joined(separator: ", "))); run `amber store recover` to list them again")
        }
    }
}

/// `recover` includes what this command did alone (the chunk index from the packs); the old name stays so
/// scripts and the hints of older amber versions keep working.
struct StoreRebuildIndex: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rebuild-index",
        abstract: "Alias of `amber store recover`, which now includes rebuilding the chunk index from the pack files.")

    @OptionGroup var options: StoreRecover.Options

    func run() throws {
        try StoreRecover.run(options)
    }
}
