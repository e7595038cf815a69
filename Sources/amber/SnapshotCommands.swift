import AmberCommandLine
import AmberCore
import AmberModel
import ArgumentParser
import Foundation

struct SnapshotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "snapshot",
        abstract: "Take, list, remove and protect snapshots.",
        discussion: """
            `amber snapshot NAME` is short for `amber snapshot take NAME`; a VM named like a verb (take, ls, rm, protect, \
            unprotect) is snapshotted with `amber snapshot take NAME`. `amber snapshots` is `amber snapshot ls`.
            \(SnapshotReference.help)
            """,
        subcommands: [TakeSnapshot.self, SnapshotList.self, RemoveSnapshot.self, ProtectSnapshot.self, UnprotectSnapshot.self],
        defaultSubcommand: TakeSnapshot.self
    )
}

struct TakeSnapshot: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "take",
        abstract: "Snapshot a running VM (the default).",
        discussion: """
            The VM is paused only while its state, a copy-on-write hold on its memory (page tables are copied, not \
            pages: milliseconds) and the disk's changed chunks are taken; its memory is read and stored while it \
            runs on, and on Linux 6.7 or later only the pages written since the last snapshot are read again.
            """)

    @OptionGroup var home: HomeOption
    @Argument(help: "VM name.") var name: String
    @Option(name: .long, help: "A label to find the snapshot by (e.g. `amber rollback NAME --to LABEL`).") var label: String?
    @Flag(name: .customLong("disk-only"), help: "Capture only the disk, as after a power cut (cannot be rolled back to or cloned).")
    var diskOnly = false
    @Flag(name: .long, help: "Print the result as JSON.") var json = false

    func run() throws {
        let snapshot = try SnapshotService(home: home.resolved).take(vm: name, label: label, memory: !diskOnly)
        if json { return try printJSON(snapshot) }
        print(
            "snapshot \(snapshot.id) of \(name): paused \(String(format: "%.1f", snapshot.pauseMilliseconds)) ms, "
                + "\(ByteFormat.string(snapshot.logicalBytes)) logical, \(ByteFormat.string(snapshot.storedBytes)) stored")
    }
}

struct RemoveSnapshot: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Forget a snapshot (its chunks go at the next `amber store gc`).")

    @OptionGroup var home: HomeOption
    @Argument(help: ArgumentHelp(SnapshotReference.argumentHelp)) var id: String
    @Flag(name: .long, help: "Print the result as JSON.") var json = false

    func run() throws {
        let removed = try SnapshotService(home: home.resolved).remove(id: id)
        if json { return try printJSON(SnapshotChange(id: removed, action: "removed")) }
        print("snapshot \(removed) removed")
    }
}

struct ProtectSnapshot: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "protect", abstract: "Keep a snapshot from pruning and `rm`.")

    @OptionGroup var home: HomeOption
    @Argument(help: ArgumentHelp(SnapshotReference.argumentHelp)) var id: String
    @Flag(name: .long, help: "Print the result as JSON.") var json = false

    func run() throws {
        let changed = try SnapshotService(home: home.resolved).setProtected(id: id, true)
        if json { return try printJSON(SnapshotChange(id: changed, action: "protected")) }
        print("snapshot \(changed) protected")
    }
}

struct UnprotectSnapshot: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "unprotect", abstract: "Let a snapshot be pruned and removed again.")

    @OptionGroup var home: HomeOption
    @Argument(help: ArgumentHelp(SnapshotReference.argumentHelp)) var id: String
    @Flag(name: .long, help: "Print the result as JSON.") var json = false

    func run() throws {
        let changed = try SnapshotService(home: home.resolved).setProtected(id: id, false)
        if json { return try printJSON(SnapshotChange(id: changed, action: "unprotected")) }
        print("snapshot \(changed) unprotected")
    }
}

/// What `snapshot rm|protect|unprotect --json` print.
struct SnapshotChange: Encodable {
    let id: String
    let action: String
}

/// `amber snapshot ls [VM]`.
struct SnapshotList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ls",
        abstract: "List snapshots as a tree (of one VM, or all), with their kind: full, or disk-only (cannot be rolled back to).")

    struct Options: ParsableArguments {
        @OptionGroup var home: HomeOption
        @Argument(help: "VM name (default: every VM).") var name: String?
        @Flag(name: .long, help: "Print the list as JSON.") var json = false
    }

    @OptionGroup var options: Options

    func run() throws {
        try Self.run(options)
    }

    static func run(_ options: Options) throws {
        let snapshots = try SnapshotService(home: options.home.resolved).list(vm: options.name)
        if options.json { return try printJSON(snapshots) }
        guard !snapshots.isEmpty else { return print("no snapshots; take one with `amber snapshot take NAME`") }
        let now = Date()
        let rows = SnapshotTree.ordered(snapshots).map { snapshot, depth in
            [
                String(repeating: "  ", count: depth) + SnapshotIDs.shortened(snapshot.id),
                snapshot.parent.map(SnapshotIDs.shortened) ?? "-", snapshot.vm,
                TimeText.utc(snapshot.created), TimeText.age(snapshot.created, now: now),
                snapshot.kind == SnapshotKind.disk.rawValue ? "disk-only" : snapshot.kind, snapshot.label ?? "-",
                ByteFormat.string(snapshot.logicalBytes), ByteFormat.string(snapshot.storedBytes),
                String(format: "%.1f", snapshot.pauseMilliseconds), snapshot.protected ? "yes" : "no",
            ]
        }
        let header = ["ID", "PARENT", "VM", "CREATED (UTC)", "AGE", "KIND", "LABEL", "LOGICAL", "STORED", "PAUSE MS", "PROTECTED"]
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        // Padded by hand and written at once: Foundation's `padding(toLength:)` and a per-line trim made a
        // 20,000-snapshot chain take over a second.
        var text = ""
        for row in [header] + rows {
            var line = ""
            for (column, cell) in row.enumerated() {
                if column > 0 { line += "  " }
                line += cell
                if column < row.count - 1 { line += String(repeating: " ", count: widths[column] - cell.count) }
            }
            while line.last == " " { line.removeLast() }
            text += line + "\n"
        }
        FileHandle.standardOutput.write(Data(text.utf8))
    }
}

/// `amber snapshots [VM]`: the short spelling of `amber snapshot ls`, kept for scripts.
struct ListSnapshots: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "snapshots", abstract: "List snapshots (alias of `amber snapshot ls`).")

    @OptionGroup var options: SnapshotList.Options

    func run() throws {
        try SnapshotList.run(options)
    }
}

/// Children under their parent, oldest first: depth-first order with each row's depth. A lone child goes on
/// its parent's line of descent at the same depth, so only branches indent and a chain of 20,000 snapshots
/// prints 20,000 short rows; the indentation stops growing at `maximumDepth`. Iterative, so no chain is too
/// long; snapshots on a parent cycle (only a damaged catalog has one) are listed last at depth 0.
enum SnapshotTree {
    static let maximumDepth = 16

    static func ordered(_ snapshots: [SnapshotSummary]) -> [(SnapshotSummary, Int)] {
        let ids = Set(snapshots.map(\.id))
        let children = Dictionary(grouping: snapshots.filter { $0.parent.map(ids.contains) == true }, by: { $0.parent! })
        var rows: [(SnapshotSummary, Int)] = []
        rows.reserveCapacity(snapshots.count)
        var listed = Set<String>()
        var pending: [(SnapshotSummary, Int)] = snapshots.filter { $0.parent.map(ids.contains) != true }.reversed().map { ($0, 0) }
        while let (snapshot, depth) = pending.popLast() {
            guard listed.insert(snapshot.id).inserted else { continue }
            rows.append((snapshot, depth))
            let offspring = children[snapshot.id, default: []]
            let childDepth = offspring.count > 1 ? min(depth + 1, maximumDepth) : depth
            pending += offspring.reversed().map { ($0, childDepth) }
        }
        rows += snapshots.filter { !listed.contains($0.id) }.map { ($0, 0) }
        return rows
    }
}
