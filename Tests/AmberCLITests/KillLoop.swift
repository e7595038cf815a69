import AmberCatalog
@testable import AmberCore
import AmberTestSupport
import Foundation
import Glibc
import Testing

/// An `amber` command started without waiting, to be killed with SIGKILL or left to finish.
final class StartedAmber {
    let arguments: [String]
    private let process = Process()
    private let output = Pipe()
    private let errors = Pipe()

    init(_ home: CLIHome, _ arguments: [String]) throws {
        guard FileManager.default.isExecutableFile(atPath: BuiltProducts.amber.path) else {
            throw MissingBinary(path: BuiltProducts.amber.path)
        }
        self.arguments = arguments
        process.executableURL = BuiltProducts.amber
        process.arguments = arguments + ["--home", home.root.path]
        var environment = ProcessInfo.processInfo.environment
        environment["AMBER_HOME"] = nil
        process.environment = environment
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var isRunning: Bool { process.isRunning }

    /// SIGKILL now, unless it has already exited; returns whether it was still running.
    func killIfRunning() -> Bool {
        guard process.isRunning else { return false }
        kill(process.processIdentifier, SIGKILL)
        return true
    }

    /// Waits (at most `timeout` seconds) for it to end. Only for commands whose output fits in a pipe.
    func wait(timeout: Double = 60) throws -> CLIResult {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning {
            guard Date() < deadline else {
                kill(process.processIdentifier, SIGKILL)
                throw NotFinished(arguments: arguments, seconds: timeout)
            }
            usleep(2000)
        }
        return CLIResult(
            status: process.terminationStatus,
            stdout: String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
            stderr: String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
            killedBySignal: process.terminationReason == .uncaughtSignal)
    }
}

/// What a home's catalog says exists: as `amber` lists it (`listings`: commands such as `snapshots --json`), and
/// as its rows hold it (manifests, policy and configuration are not listed).
struct CatalogState: Equatable {
    var listed: [String]
    var vms: [VMRecord]
    var images: [ImageRecord]
    var snapshots: [SnapshotRecord]

    init(_ home: CLIHome, listings: [[String]]) throws {
        listed = try listings.map { try Self.listed(home, $0) }
        let catalog = try Catalog(path: home.root.appendingPathComponent("catalog.db").path)
        (vms, images, snapshots) = try catalog.read { db in (try db.vms(), try db.images(), try db.snapshots()) }
    }

    private static func listed(_ home: CLIHome, _ arguments: [String]) throws -> String {
        let result = try home.amber(arguments)
        guard result.status == 0 else { throw CLIFailure(command: "amber \(arguments.joined(separator: " "))", stderr: result.stderr) }
        return result.stdout
    }
}

/// Rounds of one command killed with SIGKILL at random moments, and what the kills hit.
///
/// Each kill lands at a random moment within the time the same command takes to run to completion on this machine
/// now: calibrated before the loop and by every next command doing the same work (a fixed window lets every command
/// finish first on a quiet machine, and kills every one before it starts on a loaded one). The window starts halfway
/// through the time amber takes to start and open the home without changing anything (also calibrated): quick
/// commands (protect, rm) spend most of their life starting, and kills there test nothing that any other command's
/// kill does not. Every other round is aimed at the record change instead (see `round`).
final class KillLoop {
    let home: CLIHome
    let name: String
    /// The commands whose output must be the same before and after recover. Only those the loop's own commands
    /// run: `amber image ls` opens the store, which resolves what a killed command left, and the point is to see
    /// whether the loop's next command alone leaves a store that `recover` reads right.
    let listings: [[String]]
    private var startupMicroseconds: UInt32 = 0
    /// How long the command took each time it ran to completion (calibration, and the rounds' next commands).
    private var durations: [UInt32] = []
    /// The window ends at the lower quartile of those times, not the median: on a machine whose load changes by
    /// the second most draws must still fall before the command ends, or too few rounds kill anything.
    private var calibratedMicroseconds: UInt32 { durations.isEmpty ? 1 : durations.sorted()[durations.count / 4] }
    private var windowStart: UInt32 { min(startupMicroseconds, calibratedMicroseconds) / 2 }
    /// How long the command's undo journal lived when it ran to completion (at least a millisecond).
    private var recordChangeNanoseconds: UInt64 = 1_000_000
    private(set) var rounds = 0
    /// Still running when the signal was sent.
    private(set) var killed = 0
    /// Killed while a record change was under way: its undo journal was left behind.
    private(set) var killedInsideRecordChange = 0
    /// Killed after its change was committed to the catalog (the change is there, the command never said so).
    var killedAfterCommit = 0
    private var generator = SystemRandomNumberGenerator()
    private let started = DispatchTime.now().uptimeNanoseconds

    init(_ home: CLIHome, name: String, listings: [[String]]) {
        self.home = home
        self.name = name
        self.listings = listings
    }

    /// Runs each of `runs` to completion (they must succeed) and times them, and how long their undo journal lived
    /// (the record change); the first listing command, run three times, times amber's start.
    func calibrate(_ runs: [[String]], timeout: Double = 120) throws {
        startupMicroseconds = try Array(repeating: listings[0], count: 3).map { try timed($0, timeout: timeout).microseconds }.sorted()[1]
        var changes: [UInt64] = []
        for arguments in runs {
            let before = undoJournals
            let begin = DispatchTime.now().uptimeNanoseconds
            let command = try StartedAmber(home, arguments)
            var journal: (first: UInt64, last: UInt64)?
            while command.isRunning && DispatchTime.now().uptimeNanoseconds < begin + UInt64(timeout * 1e9) {
                if !undoJournals.subtracting(before).isEmpty {
                    let now = DispatchTime.now().uptimeNanoseconds
                    journal = (journal?.first ?? now, now)
                }
                usleep(200)
            }
            let result = try command.wait(timeout: timeout)
            guard result.status == 0 else { throw CLIFailure(command: "amber \(arguments.joined(separator: " "))", stderr: result.stderr) }
            durations.append(UInt32(clamping: (DispatchTime.now().uptimeNanoseconds - begin) / 1000))
            if let journal { changes.append(journal.last - journal.first) }
        }
        recordChangeNanoseconds = max(1_000_000, changes.sorted().dropFirst(changes.count / 2).first ?? 0)
    }

    /// Runs the command that follows a round to completion. When it does the same work as the round's command
    /// (`sameWork`), its time keeps the calibration current: the machine's load changes while the loop runs.
    func next(_ arguments: [String], sameWork: Bool, timeout: Double = 120) throws -> CLIResult {
        let (result, microseconds) = try timed(arguments, timeout: timeout)
        if sameWork && result.status == 0 { durations.append(microseconds) }
        return result
    }

    private func timed(_ arguments: [String], timeout: Double) throws -> (result: CLIResult, microseconds: UInt32) {
        let begin = DispatchTime.now().uptimeNanoseconds
        let result = try home.amber(arguments, timeout: timeout)
        return (result, UInt32(clamping: max(1, (DispatchTime.now().uptimeNanoseconds - begin) / 1000)))
    }

    /// Starts `arguments`, sends SIGKILL at a random moment within the calibrated time, and waits for it to end.
    /// Every other round is aimed at the command's record change: killed at a random moment within the calibrated
    /// lifetime of its undo journal, from when it appears. A draw over the whole command seldom lands in that window
    /// of a few milliseconds, and it is the one where a record and the catalog can disagree.
    func round(_ arguments: [String], timeout: Double = 120) throws -> CLIResult {
        rounds += 1
        let journalsBefore = undoJournals
        let begin = DispatchTime.now().uptimeNanoseconds
        let deadline = begin + UInt64(timeout * 1e9)
        let command = try StartedAmber(home, arguments)
        var moment = begin + UInt64(UInt32.random(in: windowStart...calibratedMicroseconds, using: &generator)) * 1000
        if rounds % 2 == 0 {
            while command.isRunning && undoJournals.subtracting(journalsBefore).isEmpty && DispatchTime.now().uptimeNanoseconds < deadline {
                usleep(200)
            }
            let seen = DispatchTime.now().uptimeNanoseconds
            moment = UInt64.random(in: seen...(seen + recordChangeNanoseconds), using: &generator)
        }
        while command.isRunning && DispatchTime.now().uptimeNanoseconds < moment { usleep(500) }
        let wasRunning = command.killIfRunning()
        let result = try command.wait(timeout: timeout)
        if wasRunning && result.killedBySignal {
            killed += 1
            if !undoJournals.subtracting(journalsBefore).isEmpty { killedInsideRecordChange += 1 }
        }
        return result
    }

    private var undoJournals: Set<String> {
        let undo = home.root.appendingPathComponent("store/records/.undo").path
        return Set((try? FileManager.default.contentsOfDirectory(atPath: undo)) ?? [])
    }

    /// The catalog as listed now equals the one `amber store recover` rebuilds from the store alone: nothing
    /// committed lost, nothing uncommitted back.
    func expectRecoverGivesBackTheCatalog(round: Int, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = try CatalogState(home, listings: listings)
        for suffix in ["", "-wal", "-shm"] { unlink(home.root.appendingPathComponent("catalog.db").path + suffix) }
        let recover = try home.amber(["store", "recover", "--json"], timeout: 120)
        try #require(recover.status == 0, "round \(round): recover failed: \(recover.stderr)", sourceLocation: sourceLocation)
        let report = try JSONDecoder().decode(RecoveryReport.self, from: Data(recover.stdout.utf8))
        #expect(
            report.damagedRecords.isEmpty && report.recordsWritten.isEmpty, "round \(round): \(recover.stdout)",
            sourceLocation: sourceLocation)
        let after = try CatalogState(home, listings: listings)
        // Compared first, so that a failure prints the difference rather than both catalogs whole.
        let same = after == before
        #expect(same, "round \(round): recover changed the catalog: \(Self.difference(before, after))", sourceLocation: sourceLocation)
    }

    private static func difference(_ before: CatalogState, _ after: CatalogState) -> String {
        var lines: [String] = []
        for (old, new) in zip(before.snapshots, after.snapshots) where old != new {
            lines.append(
                "snapshot \(old.id) (protected \(old.protected), parent \(old.parent ?? "-")) became protected "
                    + "\(new.protected), parent \(new.parent ?? "-")\(old.manifests == new.manifests ? "" : ", other manifests")")
        }
        let oldIDs = Set(before.snapshots.map(\.id)), newIDs = Set(after.snapshots.map(\.id))
        if oldIDs != newIDs {
            lines.append("snapshots lost \(oldIDs.subtracting(newIDs).sorted()), gained \(newIDs.subtracting(oldIDs).sorted())")
        }
        let oldImages = Set(before.images.map(\.name)), newImages = Set(after.images.map(\.name))
        if oldImages != newImages {
            lines.append("images lost \(oldImages.subtracting(newImages).sorted()), gained \(newImages.subtracting(oldImages).sorted())")
        }
        if before.vms != after.vms { lines.append("VMs \(before.vms.map(\.name)) became \(after.vms.map(\.name))") }
        return lines.isEmpty ? "listings differ" : lines.joined(separator: "; ")
    }

    /// At least `minimumRounds` rounds; then more, up to `maximumRounds`, until enough kills landed mid-way and inside
    /// a record change: on a loaded machine (CI) a quick command such as `image rm` finishes first more often, and a
    /// fixed number of rounds then tests less than it should (8 kills of 30 once).
    static let minimumRounds = 30
    static let maximumRounds = 90
    static let minimumKilled = 10
    static let minimumInsideRecordChange = 5

    var wantsAnotherRound: Bool {
        rounds < Self.minimumRounds
            || (rounds < Self.maximumRounds && (killed < Self.minimumKilled || killedInsideRecordChange < Self.minimumInsideRecordChange))
    }

    /// Prints what the kills hit and requires that enough of them landed while the command was at work, and
    /// enough of those while it was changing records (between its undo journal and its commit).
    func report(
        minimumKilled: Int = KillLoop.minimumKilled, minimumInsideRecordChange: Int = KillLoop.minimumInsideRecordChange,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        print(
            "kill loop \(name): \(rounds) rounds in \(String(format: "%.1f", seconds)) s, kills drawn from "
                + "\(windowStart / 1000)-\(calibratedMicroseconds / 1000) ms (aimed: \(recordChangeNanoseconds / 1_000_000) ms of record change); killed \(killed) (\(killedInsideRecordChange) inside a "
                + "record change, \(killedAfterCommit) after their commit), \(rounds - killed) finished first")
        #expect(
            killed >= minimumKilled, "only \(killed) of \(rounds) \(name) commands were killed mid-way; the test did not test much",
            sourceLocation: sourceLocation)
        #expect(
            killedInsideRecordChange >= minimumInsideRecordChange,
            "only \(killedInsideRecordChange) of \(rounds) \(name) commands were killed while changing records",
            sourceLocation: sourceLocation)
    }
}
