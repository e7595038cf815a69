import AmberSystem
import Glibc

/// The local end of the serial console: stdin/stdout (stdin in raw mode when it is a terminal)
/// when the VM runs attached, or an append-only log file when it runs detached.
final class ConsoleEndpoint: Sendable {
    let output: FileDescriptor
    private let readsStandardInput: Bool
    private let terminal: RawTerminal?

    init(logPath: String?) throws {
        if let logPath {
            do {
                output = try FileDescriptor.open(logPath, O_WRONLY | O_CREAT | O_APPEND, mode: 0o600)
            } catch {
                throw ConsoleError("cannot open console log \(logPath): \(error)")
            }
            readsStandardInput = false
            terminal = nil
        } else {
            output = FileDescriptor(owning: dup(STDOUT_FILENO))
            readsStandardInput = true
            terminal = try RawTerminal(fd: STDIN_FILENO)
        }
    }

    /// Starts a thread that types stdin into the guest until stdin ends.
    func startInput(_ type: @escaping @Sendable ([UInt8]) -> Void) {
        guard readsStandardInput else { return }
        try? NativeThread.detached(name: "stdin") {
            let input = FileDescriptor(owning: dup(STDIN_FILENO))
            var buffer = [UInt8](repeating: 0, count: 4096)
            while let count = try? buffer.withUnsafeMutableBytes({ try input.readSome(into: $0) }), count > 0 {
                type(Array(buffer[..<count]))
            }
        }
    }

    func restore() {
        terminal?.restore()
    }
}

struct ConsoleError: Error, CustomStringConvertible {
    let description: String

    init(_ description: String) {
        self.description = description
    }
}
