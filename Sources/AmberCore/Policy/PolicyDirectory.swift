import AmberPolicy
import Foundation

/// The directory of `*.yaml` policy files that `amber policy ...`, `amber prune` and amberd read.
///
/// Which one: `--policies DIR`, else `$AMBER_POLICIES`, else `<home>/policies`. The examples shipped in the
/// source tree's `policies/` are never picked up on their own (they would start snapshotting and pruning any VM
/// whose name happens to match `web-*`); point `--policies` at them, as `make demo` does.
public struct PolicyDirectory: Sendable {
    public let path: String
    /// `<home>/policies`, chosen because nothing else was given: its absence means "no policies yet" (a fresh
    /// home), where a directory the user named must exist.
    public let isDefault: Bool

    public init(path: String, isDefault: Bool = false) {
        self.path = path
        self.isDefault = isDefault
    }

    /// The default directory and it does not exist: no policies, and not an error.
    public var isAbsentDefault: Bool { isDefault && !FileManager.default.fileExists(atPath: path) }

    /// What commands say when `isAbsentDefault`.
    public var absenceNote: String {
        "no policies: \(path) does not exist (put *.yaml policy files there, or pass --policies DIR; examples: policies/ in the source tree)"
    }

    public static let environmentVariable = "AMBER_POLICIES"

    public static func resolve(explicit: String?, home: AmberHome) -> PolicyDirectory {
        if let explicit, !explicit.isEmpty { return PolicyDirectory(path: explicit) }
        if let environment = ProcessInfo.processInfo.environment[environmentVariable], !environment.isEmpty {
            return PolicyDirectory(path: environment)
        }
        return PolicyDirectory(path: home.root.appendingPathComponent("policies").path, isDefault: true)
    }

    /// Every `*.yaml` / `*.yml` file, in name order, as (path, text). An empty directory is an error unless
    /// `allowingEmpty` (amberd waits for files to appear); an absent default directory is no files.
    public func readFiles(allowingEmpty: Bool = false) throws -> [(name: String, text: String)] {
        if isAbsentDefault { return [] }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path)
                .filter { $0.hasSuffix(".yaml") || $0.hasSuffix(".yml") }.sorted()
        } catch {
            throw PolicyDirectoryError(
                description: "cannot read policy directory \(path): create it and put *.yaml "
                    + "policy files in it, or pass --policies DIR (examples: policies/ in the source tree)")
        }
        guard !names.isEmpty || allowingEmpty else {
            throw PolicyDirectoryError(
                description: "no *.yaml policy files in \(path); add one (examples: policies/ "
                    + "in the source tree) or pass --policies DIR")
        }
        return try names.map { name in
            let file = (path as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: file) else {
                throw PolicyDirectoryError(description: "cannot read \(file); check its permissions")
            }
            return (name: file, text: String(decoding: data, as: UTF8.self))
        }
    }

    /// Reads and checks every policy; throws `PolicyDirectoryError` or `PolicyErrors` (one line per problem,
    /// each naming file:line and field).
    public func load(allowingEmpty: Bool = false, defaultTimeZone: TimeZone = .current) throws -> PolicySet {
        let files = try readFiles(allowingEmpty: allowingEmpty)
        return try PolicySet(files: files, defaultTimeZone: defaultTimeZone)
    }
}

public struct PolicyDirectoryError: Error, CustomStringConvertible, Sendable {
    public let description: String
}
