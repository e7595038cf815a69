import Foundation

/// A fresh directory under /tmp (or `parent`), removed with everything in it when the value goes away.
public final class TemporaryDirectory: @unchecked Sendable {
    // @unchecked: `url` is immutable; the directory is only removed in deinit.
    public let url: URL

    public init(prefix: String = "amber-test", parent: String = NSTemporaryDirectory()) throws {
        url = URL(fileURLWithPath: parent).appendingPathComponent("\(prefix)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit {
        try? FileManager.default.removeItem(at: url)
    }

    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }
}
