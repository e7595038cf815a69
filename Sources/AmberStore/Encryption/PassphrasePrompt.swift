import AmberSystem
import Glibc

/// The terminal settings to put back if the user interrupts a prompt while echo is off (a signal handler can
/// capture nothing, so they live here).
private nonisolated(unsafe) var savedTerminal = termios()

/// Reads a passphrase from standard input (a terminal) with echo off; the prompt goes to stderr. Ctrl-C during
/// the prompt turns echo back on before the process ends.
enum PassphrasePrompt {
    /// nil when nothing was typed.
    static func read(_ prompt: String) throws -> [UInt8]? {
        StandardError.write(prompt)
        let isTerminal = tcgetattr(STDIN_FILENO, &savedTerminal) == 0
        var previousInterrupt: sighandler_t?
        if isTerminal {
            var quiet = savedTerminal
            quiet.c_lflag &= ~tcflag_t(ECHO)
            previousInterrupt = signal(SIGINT) { _ in
                tcsetattr(STDIN_FILENO, TCSANOW, &savedTerminal)
                _exit(130)
            }
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
        }
        defer {
            if isTerminal {
                tcsetattr(STDIN_FILENO, TCSAFLUSH, &savedTerminal)
                signal(SIGINT, previousInterrupt ?? SIG_DFL)
            }
            StandardError.write("\n")
        }
        var line: [UInt8] = []
        var byte: UInt8 = 0
        while line.count <= KeyMaterial.maxFileSize {
            let count = Glibc.read(STDIN_FILENO, &byte, 1)
            if count < 0, errno == EINTR { continue }
            if count <= 0 || byte == UInt8(ascii: "\n") { break }
            line.append(byte)
        }
        return line.isEmpty ? nil : line
    }
}
