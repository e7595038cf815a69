import AmberSystem
import Foundation
import Glibc

/// amberd's scheduled store gc runs in a child process, `amber store gc --json`: gc reads every manifest
/// in the store, bytes Amber treats as untrusted, and whatever a damaged or crafted store could make go
/// wrong there (a crash, a runaway) ends the child and is logged, while the daemon and its policies go on.
enum StoreGCChild {
    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs gc for `home` and returns its report; the child's own messages (whom it waits for, its
    /// error) go to `log`, one per line.
    static func collectGarbage(home: AmberHome, log: @escaping @Sendable (String) -> Void) throws -> GarbageCollectionReport {
        let amber: String
        switch CompanionExecutable.locate("amber") {
        case .success(let path): amber = path
        case .failure(let notFound):
            throw Failure(description: "amber not found (looked in \(notFound.searched)): install it beside amberd")
        }
        let child = Process()
        child.executableURL = URL(fileURLWithPath: amber)
        // The child opens the store again: an encrypted store's key file goes with it (amberd never prompts).
        child.arguments = ["store", "gc", "--json", "--home", home.root.path] + (home.keyInput.keyFile.map { ["--key-file", $0] } ?? [])
        let output = Pipe()
        let errors = Pipe()
        child.standardInput = FileHandle.nullDevice
        child.standardOutput = output
        child.standardError = errors
        try child.run()
        // Both pipes are drained at once: a child blocked on a full stderr pipe would never finish stdout.
        let messages = try BackgroundLines(errors.fileHandleForReading, log)
        let report = output.fileHandleForReading.readDataToEndOfFile()
        let lastMessage = messages.finish()
        child.waitUntilExit()
        switch child.terminationReason {
        case .uncaughtSignal:
            throw Failure(description: "amber store gc (pid \(child.processIdentifier)) was killed by signal \(child.terminationStatus)")
        case .exit where child.terminationStatus != 0:
            throw Failure(
                description: lastMessage.map { $0.hasPrefix("error: ") ? String($0.dropFirst(7)) : $0 }
                    ?? "amber store gc exited \(child.terminationStatus)")
        default:
            do {
                return try JSONDecoder().decode(GarbageCollectionReport.self, from: report)
            } catch {
                throw Failure(description: "amber store gc printed no report amberd can read: \(error)")
            }
        }
    }

    /// Reads a pipe line by line on its own thread, handing each line (but the error line) to `log`.
    private final class BackgroundLines: Sendable {
        private let reader: BackgroundWork<String?>

        init(_ handle: FileHandle, _ log: @escaping @Sendable (String) -> Void) throws {
            reader = try BackgroundWork(name: "gc-messages") {
                var last: String?
                let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
                for line in text.split(whereSeparator: \.isNewline) {
                    if line.hasPrefix("error: ") { last = String(line) } else { log(String(line)) }
                }
                return last
            }
        }

        /// Waits for the pipe's end and returns the child's error line, if it printed one.
        func finish() -> String? {
            (try? reader.wait()) ?? nil
        }
    }
}
