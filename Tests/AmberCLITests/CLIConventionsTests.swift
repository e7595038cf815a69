import AmberTestSupport
import Foundation
import Testing

/// What docs/cli.md promises of every command, checked by walking the command tree as `amber --help` shows it
/// (so a new command is checked without being listed here): help exits 0, `--json` prints JSON, an error starts
/// `error: ` and exits with a documented code.
@Suite("CLI conventions")
struct CLIConventionsTests {
    /// docs/cli.md's exit codes.
    static let documentedCodes: Set<Int32> = [0, 1, 64, 65, 69, 74, 75]
    /// What stands in for a required argument: names nothing, so no command finds anything to act on.
    static let placeholder = "nosuch0"

    struct Command: CustomStringConvertible {
        let path: [String]
        let help: String
        var description: String { (["amber"] + path).joined(separator: " ") }
    }

    /// Every command below `amber`, depth first, each with its help text.
    static func walk(_ path: [String] = []) throws -> [Command] {
        let result = try runProcess(BuiltProducts.amber, path + ["--help"])
        #expect(result.status == 0, "amber \(path.joined(separator: " ")) --help exited \(result.status): \(result.stderr)")
        #expect(result.stdout.contains("USAGE: \((["amber"] + path).joined(separator: " "))"), "\(path): \(result.stdout)")
        let command = Command(path: path, help: result.stdout)
        return try [command] + subcommands(in: result.stdout).flatMap { try walk(path + [$0]) }
    }

    /// The names in a help text's SUBCOMMANDS section (the first of a command's spellings).
    static func subcommands(in help: String) -> [String] {
        guard let section = help.components(separatedBy: "SUBCOMMANDS:\n").dropFirst().first else { return [] }
        var names: [String] = []
        for line in section.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.isEmpty || line.hasPrefix("  See ") { break }
            // "  name                    abstract", "  name, alias  ...", "  take (default)  ...": a name starts at column 3.
            guard line.hasPrefix("  "), !line.hasPrefix("   ") else { continue }
            let name = line.dropFirst(2).prefix { $0.isLetter || $0.isNumber || $0 == "-" }
            if !name.isEmpty, name != "help" { names.append(String(name)) }
        }
        return names
    }

    /// The command's arguments from its usage line, with every required positional and option given the placeholder.
    static func requiredArguments(_ command: Command) -> [String] {
        guard let usage = command.help.components(separatedBy: "USAGE: ").dropFirst().first?.split(separator: "\n").first
        else { return [] }
        var arguments: [String] = []
        var depth = 0
        for word in usage.split(separator: " ").dropFirst(1 + command.path.count) {
            let opens = word.filter { $0 == "[" }.count
            defer { depth += opens - word.filter { $0 == "]" }.count }
            // Only what stands outside brackets is required.
            guard depth == 0, opens == 0 else { continue }
            if word.hasPrefix("--") {
                arguments.append(String(word))
            } else if word.hasPrefix("<") {
                arguments.append(placeholder)
            }
        }
        return arguments
    }

    static func isJSON(_ text: String) -> Bool {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) != nil
    }

    @Test func everyCommandHasHelpAndKeepsTheConventions() throws {
        let commands = try Self.walk()
        // The tree as of this test's writing had 50-odd commands; far fewer means the walk stopped seeing them.
        #expect(commands.count > 40, "only \(commands.map(\.description))")
        let leaves = commands.filter { Self.subcommands(in: $0.help).isEmpty }
        for command in leaves {
            let home = try CLIHome()
            defer { home.remove() }
            var arguments = command.path + Self.requiredArguments(command)
            let hasJSON = command.help.contains("--json")
            if hasJSON { arguments.append("--json") }
            let result = try home.amber(arguments, timeout: 60)
            #expect(Self.documentedCodes.contains(result.status), "\(arguments): exit \(result.status), \(result.stderr)")
            if result.status == 0 {
                if hasJSON { #expect(Self.isJSON(result.stdout), "\(arguments) --json printed: \(result.stdout)") }
            } else {
                #expect(result.stderr.hasPrefix("error: "), "\(arguments): \(result.stderr)")
                #expect(!result.stderr.contains("Error:"), "\(arguments): \(result.stderr)")
            }
        }
    }

    @Test func helpAndVersion() throws {
        for executable in [BuiltProducts.amber, BuiltProducts.amberd] {
            let version = try runProcess(executable, ["--version"])
            #expect(version.status == 0)
            #expect(version.stdout.contains("(commit "), "\(version.stdout)")
            let help = try runProcess(executable, ["--help"])
            #expect(help.status == 0 && help.stdout.contains("USAGE:"))
            let script = try runProcess(executable, ["--generate-completion-script", "bash"])
            #expect(script.status == 0 && script.stdout.hasPrefix("#!/bin/bash"))
        }
        let helpVerb = try runProcess(BuiltProducts.amber, ["help", "rollback"])
        #expect(helpVerb.status == 0 && helpVerb.stdout.contains("USAGE: amber rollback"), "\(helpVerb.stdout)\(helpVerb.stderr)")
    }

    @Test(
        "errors: one style, the documented code",
        arguments: [
            (["stop", "nosuch0"], Int32(64), "no VM named nosuch0"),
            (["snapshot", "rm", "0badc0de"], 64, "no snapshot with id 0badc0de"),
            (["clone", "0badc0de", "--name", "c1"], 64, "no snapshot with id 0badc0de"),
            (["rollback", "nosuch0", "--to", "latest"], 64, "no VM named nosuch0"),
            (["ps", "--bogus"], 64, "Unknown option '--bogus'"),
            (["run", "x", "--kernel", "/nonexistent", "--memory", "20Q"], 64, "--memory '20Q' is not a size"),
            (["network", "rm", "nosuch0"], 64, "no network named nosuch0"),
            (["network", "create", "x", "--subnet", "10.0.0.0/33"], 64, "bad subnet 10.0.0.0/33"),
        ])
    func errors(arguments: [String], code: Int32, message: String) throws {
        let home = try CLIHome()
        defer { home.remove() }
        let result = try home.amber(arguments)
        #expect(result.status == code, "\(arguments): \(result.stderr)")
        #expect(result.stderr.hasPrefix("error: ") && result.stderr.contains(message), "\(arguments): \(result.stderr)")
    }

    /// A usage mistake found after parsing shows the usage of the command given, not of `amber`.
    @Test func usageErrorsShowTheCommandsOwnUsage() throws {
        let home = try CLIHome()
        defer { home.remove() }
        let result = try home.amber(["rollback", "x", "--at", "yesterday"])
        #expect(result.status == 64)
        #expect(result.stderr.hasPrefix("error: --at 'yesterday' is not a time"), "\(result.stderr)")
        #expect(result.stderr.contains("Usage: amber rollback"), "\(result.stderr)")
        let unknown = try runProcess(BuiltProducts.amber, ["bogus"])
        #expect(unknown.status == 64 && unknown.stderr.hasPrefix("error: Unexpected argument 'bogus'"), "\(unknown.stderr)")
    }

    /// `amber snapshot ls` lists; it does not snapshot a VM named ls.
    @Test func snapshotVerbsAreNotVMNames() throws {
        let home = try CLIHome()
        defer { home.remove() }
        let list = try home.amber(["snapshot", "ls"])
        #expect(list.status == 0 && list.stdout.hasPrefix("no snapshots"), "\(list.stdout)\(list.stderr)")
        let take = try home.amber(["snapshot", "take", "ls"])
        #expect(take.status == 64 && take.stderr.contains("no VM named ls"), "\(take.stderr)")
        let short = try home.amber(["snapshot", "web1"])
        #expect(short.status == 64 && short.stderr.contains("no VM named web1"), "\(short.stderr)")
    }

    /// Commands that only read leave a fresh home as it was: absent, or an empty directory.
    @Test(
        "read-only commands create nothing",
        arguments: [
            ["ps"], ["ps", "--json"], ["vm", "ls"], ["snapshots"], ["snapshot", "ls", "--json"], ["image", "ls"],
            ["store", "stats"], ["store", "stats", "--json"], ["policy", "plan"], ["policy", "plan", "--json"],
            ["policy", "status"], ["policy", "check"], ["prune", "--dry-run"], ["network", "ls"], ["network", "ls", "--json"],
        ])
    func readOnlyCommandsCreateNothing(arguments: [String]) throws {
        let home = try CLIHome()
        defer { home.remove() }
        let absent = try home.amber(arguments)
        #expect(absent.status == 0, "\(arguments): \(absent.stderr)")
        #expect(home.tree() == nil, "\(arguments) created \(home.tree() ?? [])")
        try FileManager.default.createDirectory(at: home.root, withIntermediateDirectories: true)
        let empty = try home.amber(arguments)
        #expect(empty.status == 0, "\(arguments): \(empty.stderr)")
        #expect(home.tree() == [""], "\(arguments) created \(home.tree() ?? [])")
        if arguments.contains("--json") { #expect(Self.isJSON(empty.stdout), "\(empty.stdout)") }
    }

    /// Commands that work on the store refuse a home without one, naming it, rather than make an empty store to
    /// check, collect or recover.
    @Test(
        "store work in a fresh home is refused and creates nothing",
        arguments: [
            ["store", "verify"], ["store", "repair", "--json"], ["store", "gc"], ["store", "recover"], ["store", "rebuild-index"],
        ])
    func storeWorkNeedsAStore(arguments: [String]) throws {
        let home = try CLIHome()
        defer { home.remove() }
        let refused = try home.amber(arguments)
        #expect(refused.status == 64, "\(arguments): \(refused.stderr)")
        #expect(refused.stderr.hasPrefix("error: no store in \(home.root.path) yet, nothing to "), "\(refused.stderr)")
        #expect(refused.stdout.isEmpty && home.tree() == nil, "\(arguments) created \(home.tree() ?? [])")
    }

    /// No policy directory yet means no policies; a directory named on the command line must exist.
    @Test func absentPolicyDirectory() throws {
        let home = try CLIHome()
        defer { home.remove() }
        let plan = try home.amber(["policy", "plan"])
        #expect(plan.status == 0)
        #expect(plan.stderr.contains("no policies"), "\(plan.stderr)")
        let explicit = try home.amber(["policy", "plan", "--policies", "/nonexistent-amber-policies"])
        #expect(explicit.status == 65 && explicit.stderr.hasPrefix("error: cannot read policy directory"), "\(explicit.stderr)")
    }
}

extension CLIHome {
    /// Every path under the home, "" for the home itself; nil when the home does not exist.
    func tree() -> [String]? {
        FileManager.default.fileExists(atPath: root.path) ? [""] + contents() : nil
    }
}
