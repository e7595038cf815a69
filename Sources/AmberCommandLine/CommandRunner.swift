import AmberCore
import ArgumentParser
import Foundation
import Glibc

/// How `amber` and `amberd` run a command and end: one error style (`error: ...` on stderr, the command's own
/// usage after a usage error) and the exit codes of `CommandExitCode`, instead of ArgumentParser's
/// `Error: ...` and its root usage for errors thrown by `run()`.
public enum CommandRunner {
    /// Parses `arguments` below `root`, runs the command and exits.
    public static func main<Root: ParsableCommand>(_ root: Root.Type, _ arguments: [String]) -> Never {
        var command: ParsableCommand
        do {
            command = try root.parseAsRoot(arguments)
        } catch {
            exitAfterParsing(root, error)
        }
        run(root, command)
    }

    /// Runs a command parsed another way (`amber clone`'s fast path) and exits.
    public static func run<Root: ParsableCommand>(_ root: Root.Type, _ command: ParsableCommand) -> Never {
        var command = command
        do {
            try command.run()
        } catch {
            exit(root, error, from: type(of: command))
        }
        Glibc.exit(CommandExitCode.success)
    }

    /// Help, `--version` and completion scripts exit 0 with their text on stdout; anything else is a usage error,
    /// reported with the usage of the subcommand being parsed.
    private static func exitAfterParsing<Root: ParsableCommand>(_ root: Root.Type, _ error: Error) -> Never {
        if let exitCode = error as? ExitCode { Glibc.exit(exitCode.rawValue) }
        let text = root.fullMessage(for: error)
        if root.exitCode(for: error) == .success {
            if !text.isEmpty { print(text) }
            Glibc.exit(CommandExitCode.success)
        }
        writeError(text)
        Glibc.exit(CommandExitCode.usage)
    }

    /// An error thrown by `run()`: its message, and for a usage mistake found only then, the command's usage.
    public static func exit<Root: ParsableCommand>(_ root: Root.Type, _ error: Error, from command: ParsableCommand.Type) -> Never {
        // `amber help COMMAND` is a command whose run() "fails" with the help text.
        if root.exitCode(for: error) == .success { exitAfterParsing(root, error) }
        switch error {
        case let exitCode as ExitCode:
            Glibc.exit(exitCode.rawValue)
        case let validation as ValidationError:
            writeError(
                "\(validation.message)\nUsage: \(root.usageString(for: command))\n"
                    + "  See '\(commandPath(root, command)) --help' for more information.")
            Glibc.exit(CommandExitCode.usage)
        default:
            writeError(String(describing: error), everyLine: true)
            Glibc.exit(CommandExitCode.code(for: error))
        }
    }

    /// Writes `text` to stderr as an error: its first line starts `error: ` (ArgumentParser's `Error: ` replaced),
    /// or with `everyLine` each line, for errors that are one problem a line (invalid policy files).
    public static func writeError(_ text: String, everyLine: Bool = false) {
        var message = text.trimmingCharacters(in: .newlines)
        if message.hasPrefix("Error: ") { message.removeFirst("Error: ".count) }
        let lines = message.split(separator: "\n", omittingEmptySubsequences: false)
        let prefixed = lines.enumerated().map { index, line in index == 0 || everyLine ? "error: \(line)" : String(line) }
        FileHandle.standardError.write(Data((prefixed.joined(separator: "\n") + "\n").utf8))
    }

    private static func commandPath<Root: ParsableCommand>(_ root: Root.Type, _ command: ParsableCommand.Type) -> String {
        let usage = root.usageString(for: command)
        // The usage starts with the command's path ("amber rollback <name> ..."); its words up to the first argument.
        return usage.split(separator: " ").prefix { !$0.hasPrefix("<") && !$0.hasPrefix("[") && !$0.hasPrefix("-") }
            .joined(separator: " ")
    }
}
