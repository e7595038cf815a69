import Foundation

/// Polls `condition` (every `interval` seconds) until it holds or `seconds` have passed: tests wait for what they
/// expect a guest or a process to do, never for a fixed time that assumes it makes progress (CI machines are loaded).
public func eventually(within seconds: Double, every interval: Double = 0.01, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        usleep(useconds_t(interval * 1_000_000))
    }
    return try condition()
}
