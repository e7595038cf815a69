import AmberPolicy
import Foundation

/// The policies amberd runs: the last good version of its policy directory. Each `reload()` re-reads the
/// files; a valid new version replaces the running one, an invalid one is reported once (until the files
/// change again) and the last good version stays.
final class PolicyReloader {
    enum Outcome {
        case unchanged
        case reloaded
        case rejected(PolicyErrors)
        case unreadable(Error)
    }

    let directory: PolicyDirectory
    private(set) var policies: PolicySet
    private var goodFiles: [PolicyFileText]
    private var rejectedFiles: [PolicyFileText]?
    private var unreadable = false

    /// Reads the directory once; throws when it cannot be read or holds invalid files (nothing to fall back on).
    init(directory: PolicyDirectory) throws {
        self.directory = directory
        let files = try directory.readFiles(allowingEmpty: true).map(PolicyFileText.init)
        policies = try PolicySet(files: files.map { ($0.name, $0.text) }, defaultTimeZone: .current)
        goodFiles = files
    }

    func reload() -> Outcome {
        let files: [PolicyFileText]
        do {
            files = try directory.readFiles(allowingEmpty: true).map(PolicyFileText.init)
        } catch {
            defer { unreadable = true }
            return unreadable ? .unchanged : .unreadable(error)
        }
        unreadable = false
        guard files != goodFiles, files != rejectedFiles else { return .unchanged }
        do {
            policies = try PolicySet(files: files.map { ($0.name, $0.text) }, defaultTimeZone: .current)
            goodFiles = files
            rejectedFiles = nil
            return .reloaded
        } catch {
            rejectedFiles = files
            return .rejected(error)
        }
    }
}

/// One policy file's path and text, to tell whether the directory changed since the last read.
struct PolicyFileText: Equatable {
    let name: String
    let text: String

    init(_ file: (name: String, text: String)) {
        name = file.name
        text = file.text
    }
}
