import AmberCommandLine
import AmberCore
import AmberPolicy
import AmberSystem
import ArgumentParser
import Foundation
import Glibc

/// amberd: runs the snapshot policies in the foreground (systemd-friendly: logs to stderr, exits 0 on SIGTERM).
@main
struct Amberd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "amberd",
        abstract: "Run snapshot policies: take snapshots on schedule, prune by retention, collect store garbage.",
        discussion: """
            Runs in the foreground and logs one line per event to stderr. SIGTERM or SIGINT: the job in progress \
            finishes (a snapshot is never left half-taken) and amberd exits 0.
            A run missed while amberd was down is caught up once on start. A VM that is not running is skipped; a \
            failed snapshot is retried at the next slot. When a policy file changes amberd re-reads the directory; an \
            invalid version is reported and the last good one keeps running.
            Policies: --policies DIR, else $AMBER_POLICIES, else <home>/policies (the source tree's policies/ holds \
            examples; amberd never reads them unless pointed there).
            Exit codes: 0 after SIGTERM/SIGINT, 64 usage, 65 invalid policies at start, 1 anything else (docs/cli.md).
            """,
        version: BuildVersion.description
    )

    static func main() {
        CommandRunner.main(Amberd.self, Array(CommandLine.arguments.dropFirst()))
    }

    @Option(name: .long, help: "Directory of *.yaml policy files (default: $AMBER_POLICIES, else <home>/policies).")
    var policies: String?

    @Option(name: .long, help: "State directory (default: $AMBER_HOME, else /var/lib/amber as root, else ~/.local/share/amber).")
    var home: String?

    @Option(name: .long, help: "An encrypted store's key file (default: $AMBER_KEY_FILE); amberd never prompts for a passphrase.")
    var keyFile: String?

    @Option(name: .long, help: "When to run `store gc`, as a calendar event, or 'never'.")
    var gc = PolicyDaemon.defaultGCSchedule

    func validate() throws {
        if gc != "never" {
            do {
                _ = try CalendarEvent(parsing: gc)
            } catch {
                throw ValidationError("--gc '\(gc)': \(error) (or 'never')")
            }
        }
    }

    func run() throws {
        let waker = try DaemonWaker()
        // Before any other thread exists, so every thread inherits the blocked mask and only the signal
        // thread sees SIGTERM/SIGINT.
        let signalThread = try Signals.handleOnThread([SIGTERM, SIGINT]) { _ in waker.requestStop() }
        Signals.ignoreBrokenPipes()
        var amberHome = AmberHome(explicit: home, keyFile: keyFile)
        amberHome.keyInput.promptsOnTerminal = false
        let daemonConfiguration = PolicyDaemon.Configuration(
            home: amberHome, policies: PolicyDirectory.resolve(explicit: policies, home: amberHome),
            gcSchedule: gc == "never" ? nil : try CalendarEvent(parsing: gc))
        let daemon: PolicyDaemon
        do {
            daemon = try PolicyDaemon(configuration: daemonConfiguration, log: .standardError, waker: waker)
        } catch let errors as PolicyErrors {
            CommandRunner.writeError("invalid policies, amberd not started:\n\(errors)", everyLine: true)
            throw ExitCode(CommandExitCode.refused)
        }
        withExtendedLifetime(signalThread) { daemon.run() }
    }
}
