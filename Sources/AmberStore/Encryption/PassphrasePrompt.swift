import Glibc

/// Reads a passphrase from standard input (a terminal) with echo off; the prompt goes to stderr.
enum PassphrasePrompt {
    /// nil when nothing was typed.
    static func read(_ prompt: String) throws -> [UInt8]? {
        fputs(prompt, stderr)
        var saved = termios()
        let isTerminal = tcgetattr(STDIN_FILENO, &saved) == 0
        if isTerminal {
            var quiet = saved
            quiet.c_lflag &= ~tcflag_t(ECHO)
            tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet)
        }
        defer {
            if isTerminal { tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved) }
            fputs("\n", stderr)
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
