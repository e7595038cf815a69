import Foundation
import Glibc

/// Finds amber-vmm: beside the running `amber` (the build and install layout), else on PATH.
enum VMMExecutable {
    static let name = "amber-vmm"

    static func locate() throws -> String {
        var searched: [String] = []
        if let ownPath = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let directory = URL(fileURLWithPath: ownPath).deletingLastPathComponent().path
            searched.append(directory)
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        searched += path.split(separator: ":").map(String.init).filter { !$0.isEmpty }
        for directory in searched {
            let candidate = URL(fileURLWithPath: directory).appendingPathComponent(name).path
            if access(candidate, X_OK) == 0 { return candidate }
        }
        let summary = searched.isEmpty ? "nowhere" : (searched.first! + (searched.count > 1 ? " and PATH" : ""))
        throw VMLifecycleError.vmmNotFound(searched: summary)
    }
}
