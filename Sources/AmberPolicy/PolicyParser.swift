import Foundation
import Yams

/// Reads one policy from the text of a YAML file. Collects every problem it can find, each naming file:line and
/// the field, so one run of `amber policy check` shows them all.
struct PolicyParser {
    static let topLevelKeys = ["name", "vms", "schedule", "timezone", "memory", "keep", "within", "max_stored"]
    static let keepKeys = KeepRule.allCases.map(\.rawValue)

    let file: String
    let defaultTimeZone: TimeZone
    private(set) var errors: [PolicyError] = []

    init(file: String, defaultTimeZone: TimeZone) {
        self.file = file
        self.defaultTimeZone = defaultTimeZone
    }

    mutating func parse(_ text: String) -> Policy? {
        let root: Node
        do {
            guard let composed = try Yams.compose(yaml: text) else {
                fail(line: 1, field: nil, "file is empty; a policy needs at least name, vms and schedule")
                return nil
            }
            root = composed
        } catch let error as YamlError {
            report(error, text: text)
            return nil
        } catch {
            fail(line: 1, field: nil, "cannot read YAML: \(error)")
            return nil
        }
        guard let mapping = root.mapping else {
            fail(at: root, field: nil, "a policy file holds one mapping (name: ..., vms: ..., schedule: ...)")
            return nil
        }

        var name: String?
        var nameLine = line(of: root)
        var vms: [VMPattern]?
        var schedule: CalendarEvent?
        var timeZone = defaultTimeZone
        var memory = true
        var retention = Retention()
        for (keyNode, value) in mapping {
            let key = keyNode.scalar?.string ?? ""
            switch key {
            case "name":
                name = parseName(value)
                nameLine = line(of: value)
            case "vms": vms = parseVMs(value)
            case "schedule": schedule = parseSchedule(value)
            case "timezone": timeZone = parseTimeZone(value) ?? timeZone
            case "memory": memory = parseBool(value, field: "memory") ?? memory
            case "keep": parseKeep(value, into: &retention)
            case "within":
                retention.within = parseValue(
                    value, field: "within", help: PolicyValues.durationHelp,
                    PolicyValues.duration)
            case "max_stored":
                retention.maxStoredBytes = parseValue(
                    value, field: "max_stored", help: PolicyValues.sizeHelp,
                    PolicyValues.size)
            default:
                fail(at: keyNode, field: key, "unknown key; allowed: \(Self.topLevelKeys.joined(separator: ", "))")
            }
        }
        let mappingLine = line(of: root)
        for (required, present) in [("name", name != nil), ("vms", vms != nil), ("schedule", schedule != nil)]
        where !present && !errors.contains(where: { $0.field == required }) {
            fail(line: mappingLine, field: required, "missing; every policy needs name, vms and schedule")
        }
        guard errors.isEmpty, let name, let vms, let schedule else { return nil }
        return Policy(
            name: name, vms: vms, schedule: schedule, timeZone: timeZone, memory: memory,
            retention: retention, source: SourceLocation(file: file, line: nameLine))
    }

    private mutating func parseName(_ node: Node) -> String? {
        guard let text = string(node, field: "name") else { return nil }
        let allowed = text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
        guard !text.isEmpty, allowed else {
            fail(at: node, field: "name", "'\(text)' is not a valid name; use letters, digits, '.', '_' and '-'")
            return nil
        }
        return text
    }

    private mutating func parseVMs(_ node: Node) -> [VMPattern]? {
        let items: [Node]
        if let sequence = node.sequence {
            items = Array(sequence)
        } else if node.scalar != nil {
            items = [node]
        } else {
            fail(at: node, field: "vms", "must be a VM name, a glob like 'web-*', or a list of them")
            return nil
        }
        guard !items.isEmpty else {
            fail(at: node, field: "vms", "is empty; list the VM names or globs this policy applies to")
            return nil
        }
        var patterns: [VMPattern] = []
        for item in items {
            guard let text = string(item, field: "vms") else { continue }
            let pattern = VMPattern(text)
            if let problem = pattern.syntaxProblem {
                fail(at: item, field: "vms", "'\(text)' \(problem); use names or globs with *, ? and [a-z]")
            } else {
                patterns.append(pattern)
            }
        }
        return patterns.count == items.count ? patterns : nil
    }

    private mutating func parseSchedule(_ node: Node) -> CalendarEvent? {
        guard let text = string(node, field: "schedule") else { return nil }
        do {
            return try CalendarEvent(parsing: text)
        } catch {
            fail(at: node, field: "schedule", error.message)
            return nil
        }
    }

    private mutating func parseTimeZone(_ node: Node) -> TimeZone? {
        guard let text = string(node, field: "timezone") else { return nil }
        guard let zone = TimeZone(identifier: text) else {
            fail(
                at: node, field: "timezone",
                "'\(text)' is not a known time zone; use an IANA name like Europe/Berlin, America/New_York or UTC")
            return nil
        }
        return zone
    }

    private mutating func parseKeep(_ node: Node, into retention: inout Retention) {
        guard let mapping = node.mapping else {
            fail(
                at: node, field: "keep",
                "must be a mapping like { last: 4, hourly: 24, daily: 7 }; "
                    + "allowed keys: \(Self.keepKeys.joined(separator: ", "))")
            return
        }
        for (keyNode, value) in mapping {
            let key = keyNode.scalar?.string ?? ""
            guard let rule = KeepRule(rawValue: key) else {
                fail(at: keyNode, field: "keep.\(key)", "unknown key; allowed: \(Self.keepKeys.joined(separator: ", "))")
                continue
            }
            let field = "keep.\(key)"
            guard let scalar = value.scalar, scalar.style == .plain, let count = Int(scalar.string) else {
                fail(at: value, field: field, "must be a whole number of snapshots (0 or more), got \(show(value))")
                continue
            }
            guard count >= 0 else {
                fail(at: value, field: field, "must be 0 or more, got \(count)")
                continue
            }
            switch rule {
            case .last: retention.last = count
            case .hourly: retention.hourly = count
            case .daily: retention.daily = count
            case .weekly: retention.weekly = count
            case .monthly: retention.monthly = count
            case .yearly: retention.yearly = count
            }
        }
    }

    private mutating func parseBool(_ node: Node, field: String) -> Bool? {
        if let scalar = node.scalar, scalar.style == .plain {
            switch scalar.string.lowercased() {
            case "true": return true
            case "false": return false
            default: break
            }
        }
        fail(at: node, field: field, "must be true or false, got \(show(node))")
        return nil
    }

    private mutating func parseValue<T>(
        _ node: Node, field: String, help: String,
        _ convert: (String) -> T?
    ) -> T? {
        guard let text = string(node, field: field) else { return nil }
        guard let value = convert(text) else {
            fail(at: node, field: field, "'\(text)' is not \(help)")
            return nil
        }
        return value
    }

    private mutating func string(_ node: Node, field: String) -> String? {
        guard let scalar = node.scalar else {
            fail(at: node, field: field, "must be a single value, not a \(node.mapping != nil ? "mapping" : "list")")
            return nil
        }
        return scalar.string
    }

    private func show(_ node: Node) -> String {
        if let scalar = node.scalar { return "'\(scalar.string)'" }
        return node.mapping != nil ? "a mapping" : "a list"
    }

    private func line(of node: Node) -> Int { node.mark?.line ?? 1 }

    private mutating func fail(at node: Node, field: String?, _ message: String) {
        fail(line: line(of: node), field: field, message)
    }

    private mutating func fail(line: Int, field: String?, _ message: String) {
        errors.append(PolicyError(SourceLocation(file: file, line: line), field: field, message))
    }

    private mutating func report(_ error: YamlError, text: String) {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            let sourceLine =
                text.split(separator: "\n", omittingEmptySubsequences: false)
                .dropFirst(mark.line - 1).first.map(String.init) ?? ""
            let hint =
                sourceLine.contains(": *") || sourceLine.contains(":*")
                ? "; quote values that start with '*', e.g. schedule: \"*:0/15\"" : ""
            fail(line: mark.line, field: nil, "not valid YAML: \(problem)\(hint)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            fail(
                line: context.mark.line, field: duplicates.first,
                "key appears more than once in the same mapping; keep one")
        case .reader(let problem, let offset, _, _):
            // Yams' own description quotes the file around the bad byte over several lines; a policy error is one.
            let line = 1 + text.utf8.prefix(offset ?? 0).filter { $0 == UInt8(ascii: "\n") }.count
            fail(line: line, field: nil, "not valid YAML: \(problem) (byte \(offset ?? 0))")
        default:
            fail(line: 1, field: nil, "not valid YAML: \(String(describing: error).split(separator: "\n").first ?? "")")
        }
    }
}

extension Policy {
    /// Parses one policy file on its own, e.g. so a daemon can keep running the last good version of a file that
    /// became invalid; `PolicySet` then checks the files together.
    public init(parsing text: String, file: String, defaultTimeZone: TimeZone) throws(PolicyErrors) {
        var parser = PolicyParser(file: file, defaultTimeZone: defaultTimeZone)
        guard let policy = parser.parse(text) else { throw PolicyErrors(errors: parser.errors) }
        self = policy
    }
}
