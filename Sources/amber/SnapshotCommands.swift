import AmberCore
import ArgumentParser
import Foundation

struct SnapshotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Snapshot a running VM (memory, vCPUs, devices and disk) into the store.",
        subcommands: [TakeSnapshot.self],
        defaultSubcommand: TakeSnapshot.self
    )
}

struct TakeSnapshot: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "take", abstract: "Snapshot a running VM (the default).")

    @OptionGroup var home: HomeOption
    @Argument(help: "VM name.") var name: String
    @Option(name: .long, help: "A label to find the snapshot by.") var label: String?
    @Flag(name: .long, help: "Print the result as JSON.") var json = false

    func run() throws {
        let snapshot = try SnapshotService(home: home.resolved).take(vm: name, label: label)
        if json { return try StoreCLI.printJSON(snapshot) }
        print("snapshot \(snapshot.id) of \(name): paused \(String(format: "%.1f", snapshot.pauseMilliseconds)) ms, "
            + "\(ByteFormat.string(snapshot.logicalBytes)) logical, \(ByteFormat.string(snapshot.storedBytes)) stored")
    }
}

struct ListSnapshots: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "snapshots", abstract: "List snapshots as a tree (of one VM, or all).")

    @OptionGroup var home: HomeOption
    @Argument(help: "VM name (default: every VM).") var name: String?
    @Flag(name: .long, help: "Print the list as JSON.") var json = false

    func run() throws {
        let snapshots = try SnapshotService(home: home.resolved).list(vm: name)
        if json { return try StoreCLI.printJSON(snapshots) }
        guard !snapshots.isEmpty else { return print("no snapshots; take one with `amber snapshot NAME`") }
        print("ID        VM  CREATED               LABEL  LOGICAL     STORED      PAUSE ms  PROTECTED")
        let formatter = ISO8601DateFormatter()
        for (snapshot, depth) in SnapshotTree.ordered(snapshots) {
            let id = String(repeating: "  ", count: depth) + (depth > 0 ? "└ " : "") + snapshot.id
            print([id, snapshot.vm, formatter.string(from: snapshot.created), snapshot.label ?? "-",
                   ByteFormat.string(snapshot.logicalBytes), ByteFormat.string(snapshot.storedBytes),
                   String(format: "%.1f", snapshot.pauseMilliseconds), snapshot.protected ? "yes" : "no"]
                .joined(separator: "  "))
        }
    }
}

/// Children under their parent, oldest first: depth-first order with each row's depth.
enum SnapshotTree {
    static func ordered(_ snapshots: [SnapshotSummary]) -> [(SnapshotSummary, Int)] {
        let ids = Set(snapshots.map(\.id))
        let children = Dictionary(grouping: snapshots.filter { $0.parent.map(ids.contains) == true }, by: { $0.parent! })
        var rows: [(SnapshotSummary, Int)] = []
        func visit(_ snapshot: SnapshotSummary, _ depth: Int) {
            rows.append((snapshot, depth))
            children[snapshot.id, default: []].forEach { visit($0, depth + 1) }
        }
        snapshots.filter { $0.parent.map(ids.contains) != true }.forEach { visit($0, 0) }
        return rows
    }
}
