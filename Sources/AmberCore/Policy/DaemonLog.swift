import AmberSystem
import Foundation
import Glibc

/// amberd's log: one line per event on stderr, prefixed with the UTC time (journald adds its own, but a log
/// file or a terminal does not). One write(2) per line, so lines never interleave.
public struct DaemonLog: Sendable {
    private let sink: @Sendable (String) -> Void

    public init(sink: @escaping @Sendable (String) -> Void) {
        self.sink = sink
    }

    public static let standardError = DaemonLog { line in StandardError.write(line + "\n") }

    public func callAsFunction(_ message: String, at time: Date = Date()) {
        sink("\(Self.timestamp(time)) \(message)")
    }

    static func timestamp(_ time: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: time)
    }
}
