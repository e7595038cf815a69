import AmberCommandLine
import AmberCore
import AmberPolicy
import ArgumentParser
import Foundation

/// `amber policy ...`: work with snapshot policy files.
struct PolicyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policy",
        abstract: "Work with snapshot policies (policies/*.yaml).",
        subcommands: [PolicyCheck.self, PolicyPlan.self, PolicyStatus.self]
    )
}

/// `amber policy check [DIR]`: validates every policy file; each error names file:line and field.
struct PolicyCheck: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate policy files; errors name file, line and field and say what is allowed."
    )

    @Argument(help: "Directory holding the *.yaml policy files (default: --policies, else $AMBER_POLICIES, else <home>/policies).")
    var directory: String?

    @OptionGroup var home: HomeOption
    @OptionGroup var policies: PoliciesOption

    @Flag(help: "Print the result as JSON.")
    var json = false

    func run() throws {
        let resolved = PolicyDirectory.resolve(explicit: directory ?? policies.policies, home: home.resolved)
        let directory = resolved.path
        if resolved.isAbsentDefault { PoliciesOption.note(resolved.absenceNote) }
        let files = try resolved.readFiles()
        let now = Date()
        let set: PolicySet
        do {
            set = try PolicySet(files: files, defaultTimeZone: .current)
        } catch {
            if json {
                try printJSON(PolicyCheckReport(policies: [], errors: error.errors.map(PolicyCheckReport.Problem.init)))
            } else {
                CommandRunner.writeError(error.description, everyLine: true)
            }
            throw ExitCode(CommandExitCode.refused)
        }
        if json {
            try printJSON(
                PolicyCheckReport(
                    policies: set.policies.map { PolicyCheckReport.Entry($0, now: now) },
                    errors: []))
            return
        }
        for policy in set.policies {
            let next = policy.schedule.next(after: now, in: policy.timeZone)
            print(
                "\(policy.name) (\(policy.source.file)): vms \(policy.vms.map(\.text).joined(separator: ", ")); "
                    + "schedule '\(policy.schedule)' in \(policy.timeZone.identifier), next "
                    + (next.map { PolicyCheckReport.format($0, in: policy.timeZone) } ?? "never"))
        }
        print("\(set.policies.count) \(set.policies.count == 1 ? "policy" : "policies") OK in \(directory)")
    }

}

struct PolicyCheckReport: Encodable {
    struct Entry: Encodable {
        let name: String
        let file: String
        let vms: [String]
        let schedule: String
        let timezone: String
        let memory: Bool
        let keep: [String: Int]
        let within: Double?
        let maxStoredBytes: UInt64?
        let nextRun: String?

        init(_ policy: Policy, now: Date) {
            name = policy.name
            file = policy.source.file
            vms = policy.vms.map(\.text)
            schedule = policy.schedule.text
            timezone = policy.timeZone.identifier
            memory = policy.memory
            keep = Dictionary(uniqueKeysWithValues: KeepRule.allCases.map { ($0.rawValue, policy.retention.count(for: $0)) })
            within = policy.retention.within
            maxStoredBytes = policy.retention.maxStoredBytes
            nextRun = policy.schedule.next(after: now, in: policy.timeZone).map { PolicyCheckReport.format($0, in: policy.timeZone) }
        }
    }

    struct Problem: Encodable {
        let file: String
        let line: Int
        let field: String?
        let message: String

        init(_ error: PolicyError) {
            file = error.location.file
            line = error.location.line
            field = error.field
            message = error.message
        }
    }

    let policies: [Entry]
    let errors: [Problem]
    var ok: Bool { errors.isEmpty }

    enum CodingKeys: String, CodingKey { case ok, policies, errors }

    func encode(to encoder: Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(ok, forKey: .ok)
        try container.encode(policies, forKey: .policies)
        try container.encode(errors, forKey: .errors)
    }

    static func format(_ date: Date, in zone: TimeZone) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = zone
        return formatter.string(from: date)
    }
}

/// `--policies DIR`, shared by the commands that apply policies.
struct PoliciesOption: ParsableArguments {
    @Option(name: .long, help: "Directory of *.yaml policy files (default: $AMBER_POLICIES, else <home>/policies).")
    var policies: String?

    /// The checked policies; invalid files are an error of one line per problem (file:line: field: what is wrong).
    func load(home: AmberHome) throws -> PolicySet {
        let directory = PolicyDirectory.resolve(explicit: policies, home: home)
        if directory.isAbsentDefault { Self.note(directory.absenceNote) }
        return try directory.load()
    }

    /// A remark on stderr that is not an error (stdout may be JSON).
    static func note(_ text: String) {
        FileHandle.standardError.write(Data("note: \(text)\n".utf8))
    }
}
