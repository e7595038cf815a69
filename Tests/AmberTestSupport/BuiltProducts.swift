import Foundation

/// The executables this package builds, found beside the running test bundle (`swift test` builds them
/// into the same directory), so the tests run what this very build produced, debug or release.
public enum BuiltProducts {
    public static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static let directory: URL = {
        let besideBundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        if FileManager.default.isExecutableFile(atPath: besideBundle.appendingPathComponent("amber").path) {
            return besideBundle
        }
        return packageRoot.appendingPathComponent(".build/debug")
    }()

    public static let amber = directory.appendingPathComponent("amber")
    public static let amberVMM = directory.appendingPathComponent("amber-vmm")
    public static let amberd = directory.appendingPathComponent("amberd")
}
