import Foundation
import Glibc

/// Finds Amber's other executables: beside the running one (the build and install layout), else on PATH.
enum CompanionExecutable {
    /// The path of `name`, or the places looked in (for the caller's error).
    static func locate(_ name: String) -> Result<String, NotFound> {
        var searched: [String] = []
        if let ownPath = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            let directory = URL(fileURLWithPath: ownPath).deletingLastPathComponent().path
            searched.append(directory)
        }
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        searched += path.split(separator: ":").map(String.init).filter { !$0.isEmpty }
        for directory in searched {
            let candidate = URL(fileURLWithPath: directory).appendingPathComponent(name).path
            if access(candidate, X_OK) == 0 { return .success(candidate) }
        }
        let summary = searched.isEmpty ? "nowhere" : (searched.first! + (searched.count > 1 ? " and PATH" : ""))
        return .failure(NotFound(searched: summary))
    }

    struct NotFound: Error {
        let searched: String
    }
}

/// Finds amber-vmm.
enum VMMExecutable {
    static let name = "amber-vmm"

    static func locate() throws -> String {
        switch CompanionExecutable.locate(name) {
        case .success(let path): return path
        case .failure(let notFound): throw VMLifecycleError.vmmNotFound(searched: notFound.searched)
        }
    }
}
