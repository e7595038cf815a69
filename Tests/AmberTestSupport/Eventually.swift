import Foundation

/// Polls `condition` every 10 ms until it holds or `seconds` have passed: tests wait for what they expect a
/// guest or a process to do, never for a fixed time that assumes it makes progress (CI machines are loaded).
public func eventually(within seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        usleep(10_000)
    }
    return try condition()
}
