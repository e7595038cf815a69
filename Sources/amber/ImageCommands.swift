import AmberCommandLine
import AmberCore
import ArgumentParser
import Foundation

struct ImageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Keep kernels, initrds and base disks in the store.",
        subcommands: [ImportImage.self, ListImages.self, ExportImage.self, RemoveImage.self]
    )
}

struct ImportImage: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "import", abstract: "Store a file as a named image.")

    @OptionGroup var home: HomeOption
    @Argument(help: "The file to import.") var file: String
    @Option(name: .long, help: "The image's name.") var name: String
    @Flag(name: .long, help: "Print the result as JSON.") var json = false

    func run() throws {
        let images = ImageService(context: try StoreContext(home: home.resolved))
        let progress = ProgressLine("importing \(name)")
        defer { progress.finish() }
        let report = try images.importImage(file: file, name: name, progress: progress.update)
        progress.finish()
        if json { return try printJSON(report) }
        print(
            "imported \(report.name): \(ByteFormat.string(report.logicalBytes)) in \(String(format: "%.2f", report.seconds)) s, "
                + "stored \(ByteFormat.string(report.storedBytes)) (\(ByteFormat.ratio(report.reduction)) smaller; "
                + "dedup+zero \(ByteFormat.ratio(report.dedupRatio)), compression \(ByteFormat.ratio(report.compressionRatio)); "
                + "\(report.newChunks) new of \(report.chunks) chunks, \(report.zeroChunks) zero)")
    }
}

struct ListImages: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ls", abstract: "List images.")

    @OptionGroup var home: HomeOption
    @Flag(name: .long, help: "Print the list as JSON.") var json = false

    func run() throws {
        let images = try StoreContext.existing(home: home.resolved).map { try ImageService(context: $0).list() } ?? []
        if json { return try printJSON(images) }
        guard !images.isEmpty else { return print("no images; add one with `amber image import FILE --name NAME`") }
        let width = max(4, images.map(\.name.count).max() ?? 0)
        print("NAME".padding(toLength: width, withPad: " ", startingAt: 0) + "  SIZE        ADDED       CREATED (UTC)         AGE")
        let now = Date()
        for image in images {
            print(
                image.name.padding(toLength: width, withPad: " ", startingAt: 0) + "  "
                    + ByteFormat.string(image.logicalBytes).padding(toLength: 10, withPad: " ", startingAt: 0) + "  "
                    + ByteFormat.string(image.storedBytes).padding(toLength: 10, withPad: " ", startingAt: 0) + "  "
                    + TimeText.utc(image.created) + "  " + TimeText.age(image.created, now: now))
        }
    }
}

struct ExportImage: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export", abstract: "Write an image back out to a file.")

    @OptionGroup var home: HomeOption
    @Argument(help: "The image's name.") var name: String
    @Argument(help: "The file to write (replaced if it exists).") var output: String
    @Flag(help: "Print the result as JSON.") var json = false

    func run() throws {
        let images = ImageService(context: try StoreContext(home: home.resolved))
        let progress = ProgressLine("exporting \(name)")
        defer { progress.finish() }
        let size = try images.export(name: name, to: output, progress: progress.update)
        progress.finish()
        if json { return try printJSON(FileExport(image: name, path: output, bytes: size)) }
        print("exported \(name) to \(output) (\(ByteFormat.string(size)))")
    }
}

struct RemoveImage: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rm", abstract: "Forget an image (run `amber store gc` to free its space).")

    @OptionGroup var home: HomeOption
    @Argument(help: "The image's name.") var name: String
    @Flag(help: "Print the result as JSON.") var json = false

    func run() throws {
        try ImageService(context: try StoreContext(home: home.resolved)).remove(name: name)
        if json { return try printJSON(ImageChange(image: name, action: "removed")) }
        print("removed image \(name); `amber store gc` frees chunks nothing else uses")
    }
}

/// Helpers shared by the store commands.
enum StoreCLI {
    /// Runs a whole-store check (verify, repair) behind a progress line, prints its report as JSON or with `text`,
    /// and exits with `CommandExitCode.corruption` when `isClean` says something is wrong.
    static func check<Report: Encodable>(
        json: Bool, _ work: (ProgressLine) throws -> Report, isClean: (Report) -> Bool,
        text: (Report) -> Void
    ) throws {
        let progress = ProgressLine("verifying")
        defer { progress.finish() }
        let report = try work(progress)
        progress.finish()
        if json { try printJSON(report) } else { text(report) }
        if !isClean(report) { throw ExitCode(CommandExitCode.corruption) }
    }
}
