import Foundation

/// A progress line on stderr for work that may take a while: silent for the first second (quick
/// operations print nothing), then redrawn at most ten times a second, cleared when done.
public final class ProgressLine: @unchecked Sendable {
    private let label: String
    private let started = Date()
    private let lock = NSLock()
    private var lastDraw = Date.distantPast
    private var drawn = false
    /// Redrawn lines only make sense on a terminal; in a log they pile up.
    private let enabled = isatty(STDERR_FILENO) != 0

    public init(_ label: String) {
        self.label = label
    }

    /// Pass to the store as its progress callback.
    public func update(_ done: UInt64, _ total: UInt64) {
        let now = Date()
        lock.lock()
        defer { lock.unlock() }
        guard enabled, now.timeIntervalSince(started) > 1, now.timeIntervalSince(lastDraw) > 0.1 else { return }
        lastDraw = now
        drawn = true
        let rate = Double(done) / now.timeIntervalSince(started)
        let percent = total == 0 ? 100 : Int(Double(done) * 100 / Double(total))
        let line = "\r\(label): \(percent)% (\(ByteFormat.string(done)) of \(ByteFormat.string(total)), \(ByteFormat.string(UInt64(rate)))/s)"
        FileHandle.standardError.write(Data(line.utf8))
    }

    public func finish() {
        lock.lock()
        defer { lock.unlock() }
        if drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        drawn = false
        lastDraw = .distantFuture
    }
}
