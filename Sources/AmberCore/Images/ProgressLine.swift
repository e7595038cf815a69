import Foundation
import Synchronization

/// A progress line on stderr for work that may take a while: silent for the first second (quick
/// operations print nothing), then redrawn at most ten times a second, cleared when done.
public final class ProgressLine: Sendable {
    private let label: String
    private let started = Date()
    private struct Drawing {
        var lastDraw = Date.distantPast
        var drawn = false
    }

    private let drawing = Mutex(Drawing())
    /// Redrawn lines only make sense on a terminal; in a log they pile up.
    private let enabled = isatty(STDERR_FILENO) != 0

    public init(_ label: String) {
        self.label = label
    }

    /// Pass to the store as its progress callback.
    public func update(_ done: UInt64, _ total: UInt64) {
        let now = Date()
        drawing.withLock { drawing in
            guard enabled, now.timeIntervalSince(started) > 1, now.timeIntervalSince(drawing.lastDraw) > 0.1 else { return }
            drawing.lastDraw = now
            drawing.drawn = true
            draw(done, of: total, at: now)
        }
    }

    private func draw(_ done: UInt64, of total: UInt64, at now: Date) {
        let rate = Double(done) / now.timeIntervalSince(started)
        let percent = total == 0 ? 100 : Int(Double(done) * 100 / Double(total))
        let line =
            "\r\(label): \(percent)% (\(ByteFormat.string(done)) of \(ByteFormat.string(total)), \(ByteFormat.string(UInt64(rate)))/s)"
        FileHandle.standardError.write(Data(line.utf8))
    }

    public func finish() {
        drawing.withLock { drawing in
            if drawing.drawn { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
            drawing.drawn = false
            drawing.lastDraw = .distantFuture
        }
    }
}
