import AmberCore
import ArgumentParser
import Foundation

struct StoreRepair: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "repair",
        abstract: "Verify the store, take bad chunks out, store them again from intact copies Amber still has, "
            + "and name what it could not repair (exit 1 if anything).",
        discussion: """
            Bad chunks are quarantined as `verify` does. Their content is then looked for in the snapshots taken out \
            of the store for a rollback or clone (<home>/cache/snapshots): a cached file is stored again only if it \
            gives back exactly its snapshot's manifest. What stays damaged is listed with what to do: an image is \
            repaired by importing its source file again under any name; a snapshot with no intact copy can only be removed.
            """)

    @OptionGroup var home: HomeOption
    @Flag(name: .long, help: "Print the report as JSON.") var json = false

    func run() throws {
        try StoreCLI.check(
            json: json, { try StoreContext.required(home: home.resolved, toDo: "repair").repair(progress: $0.update) }, isClean: \.isClean,
            text: { report in
                if report.found.isClean {
                    print("ok: \(report.found.checkedChunks) chunks verified; nothing to repair")
                    return
                }
                print("found \(report.found.badChunks.count) bad chunk(s); quarantined \(report.found.quarantined.count)")
                for item in report.restored {
                    print("restored \(item.newChunks) chunk(s) of \(item.owner) from \(item.file)")
                }
                for (owner, advice) in report.unrepaired.sorted(by: { $0.key < $1.key }) {
                    print("NOT repaired: \(owner): \(advice)")
                }
                if report.isClean { print("repaired: every image and snapshot verifies") }
            })
    }
}
