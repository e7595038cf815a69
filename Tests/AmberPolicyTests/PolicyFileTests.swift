import Foundation
import Testing
@testable import AmberPolicy

func policyErrors(_ files: [(String, String)]) -> [String] {
    do {
        _ = try PolicySet(files: files.map { (name: $0.0, text: $0.1) }, defaultTimeZone: TestTime.zone("UTC"))
        return []
    } catch {
        return error.errors.map(\.description)
    }
}

@Suite("Policy files: bad input names file:line and field")
struct PolicyFileErrorTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let label: String
        let yaml: String
        /// Expected start of the (single) error: "file:line: field:"
        let prefix: String
        /// Part of the message saying what is allowed or wrong.
        let fragment: String
        var testDescription: String { label }
    }

    static let good = "name: web\nvms: [web1]\nschedule: daily\n"

    static let cases: [Case] = [
        Case(
            label: "unknown key", yaml: good + "keeps: {daily: 7}\n", prefix: "bad.yaml:4: keeps:",
            fragment: "unknown key; allowed: name, vms, schedule, timezone, memory, keep, within, max_stored"),
        Case(
            label: "unknown keep key", yaml: good + "keep:\n  last: 2\n  dayly: 7\n", prefix: "bad.yaml:6: keep.dayly:",
            fragment: "allowed: last, hourly, daily, weekly, monthly, yearly"),
        Case(
            label: "count not a number", yaml: good + "keep: {daily: seven}\n", prefix: "bad.yaml:4: keep.daily:",
            fragment: "must be a whole number of snapshots (0 or more), got 'seven'"),
        Case(
            label: "quoted count", yaml: good + "keep: {daily: \"7\"}\n", prefix: "bad.yaml:4: keep.daily:",
            fragment: "whole number"),
        Case(
            label: "negative count", yaml: good + "keep:\n  daily: -1\n", prefix: "bad.yaml:5: keep.daily:",
            fragment: "must be 0 or more, got -1"),
        Case(
            label: "keep not a mapping", yaml: good + "keep: 7\n", prefix: "bad.yaml:4: keep:",
            fragment: "must be a mapping"),
        Case(
            label: "impossible event", yaml: "name: web\nvms: [web1]\nschedule: \"*-02-30\"\n",
            prefix: "bad.yaml:3: schedule:", fragment: "never happens: day 30 does not exist"),
        Case(
            label: "bad event syntax", yaml: "name: web\nvms: [web1]\nschedule: \"mon..fry 02:00\"\n",
            prefix: "bad.yaml:3: schedule:", fragment: "'fry' is not a weekday; allowed: mon tue"),
        Case(
            label: "unquoted star", yaml: "name: web\nvms: [web1]\nschedule: *:0/15\n", prefix: "bad.yaml:3:",
            fragment: "quote values that start with '*'"),
        Case(
            label: "bad duration", yaml: good + "within: 2x\n", prefix: "bad.yaml:4: within:",
            fragment: "'2x' is not a duration like 90m, 36h, 2d"),
        Case(
            label: "zero duration", yaml: good + "within: 0h\n", prefix: "bad.yaml:4: within:",
            fragment: "is not a duration"),
        Case(
            label: "bad size", yaml: good + "max_stored: 20Q\n", prefix: "bad.yaml:4: max_stored:",
            fragment: "'20Q' is not a size like 512M, 20G"),
        Case(
            label: "bad time zone", yaml: good + "timezone: Mars/Olympus\n", prefix: "bad.yaml:4: timezone:",
            fragment: "not a known time zone; use an IANA name"),
        Case(
            label: "bad bool", yaml: good + "memory: maybe\n", prefix: "bad.yaml:4: memory:",
            fragment: "must be true or false, got 'maybe'"),
        Case(
            label: "empty vms", yaml: "name: web\nvms: []\nschedule: daily\n", prefix: "bad.yaml:2: vms:",
            fragment: "is empty"),
        Case(
            label: "vms mapping", yaml: "name: web\nvms: {a: 1}\nschedule: daily\n", prefix: "bad.yaml:2: vms:",
            fragment: "must be a VM name, a glob"),
        Case(
            label: "bad glob", yaml: "name: web\nvms: [\"web[1\"]\nschedule: daily\n", prefix: "bad.yaml:2: vms:",
            fragment: "without a closing ']'"),
        Case(
            label: "bad name", yaml: "name: web tier\nvms: [web1]\nschedule: daily\n", prefix: "bad.yaml:1: name:",
            fragment: "use letters, digits"),
        Case(
            label: "missing schedule", yaml: "name: web\nvms: [web1]\n", prefix: "bad.yaml:1: schedule:",
            fragment: "missing; every policy needs name, vms and schedule"),
        Case(label: "duplicate key", yaml: good + "name: other\n", prefix: "bad.yaml:", fragment: "more than once"),
        Case(label: "not a mapping", yaml: "- a\n- b\n", prefix: "bad.yaml:1:", fragment: "holds one mapping"),
        Case(label: "empty file", yaml: "", prefix: "bad.yaml:1:", fragment: "file is empty"),
    ]

    @Test(arguments: cases)
    func reports(_ testCase: Case) {
        let errors = policyErrors([("bad.yaml", testCase.yaml)])
        #expect(errors.count == 1, "\(errors)")
        #expect(errors.first?.hasPrefix(testCase.prefix) == true, "\(errors)")
        #expect(errors.first?.contains(testCase.fragment) == true, "\(errors)")
    }

    @Test func reportsEveryProblemInAFile() {
        let errors = policyErrors([
            (
                "bad.yaml",
                "name: web\nvms: [web1]\nschedule: daily\nkeep: {daily: -1, weekly: x}\n"
                    + "within: forever\n"
            )
        ])
        #expect(errors.count == 3)
        #expect(errors.allSatisfy { $0.hasPrefix("bad.yaml:4: keep.") || $0.hasPrefix("bad.yaml:5: within:") })
    }

    @Test func duplicateNamesAcrossFiles() {
        let errors = policyErrors([
            ("a.yaml", "name: web\nvms: [web1]\nschedule: daily\n"),
            ("b.yaml", "# second\nname: web\nvms: [web2]\nschedule: hourly\n"),
        ])
        #expect(
            errors == [
                "b.yaml:2: name: policy 'web' is already defined at a.yaml:1; "
                    + "policy names must be unique across files"
            ])
    }

    @Test func vmClaimedByTwoPolicies() {
        let errors = policyErrors([
            ("a.yaml", "name: all-web\nvms: [\"web*\"]\nschedule: daily\n"),
            ("b.yaml", "name: web1-extra\nvms: [db1, web1]\nschedule: hourly\n"),
        ])
        #expect(
            errors == [
                "b.yaml:1: vms: VM 'web1' is matched by policies 'all-web' (a.yaml:1) and 'web1-extra'; "
                    + "a VM may belong to one policy only, narrow one of the vms lists"
            ])
    }

    @Test func setProblemsAreReportedAlongsideFileProblems() {
        let errors = policyErrors([
            ("a.yaml", "name: web\nvms: [web1]\nschedule: daily\n"),
            ("b.yaml", "name: web\nvms: [web2]\nschedule: daily\n"),
            ("c.yaml", "name: c\nvms: [c]\nschedule: \"25:00\"\n"),
        ])
        #expect(errors.count == 2)
        #expect(errors.contains { $0.hasPrefix("c.yaml:3: schedule:") })
        #expect(errors.contains { $0.hasPrefix("b.yaml:1: name:") })
    }
}

@Suite("Policy files: valid input")
struct PolicyFileTests {
    @Test func readsEveryField() throws {
        let yaml = """
            name: web-tier
            vms: ["web-*", db1]
            schedule: "*:0/15"
            timezone: Europe/Berlin
            memory: false
            keep: { last: 4, hourly: 24, daily: 7, weekly: 4, monthly: 6, yearly: 1 }
            within: 1d12h
            max_stored: 20G
            """
        let set = try PolicySet(files: [(name: "web.yaml", text: yaml)], defaultTimeZone: TestTime.zone("UTC"))
        let policy = try #require(set.policies.first)
        #expect(policy.name == "web-tier")
        #expect(policy.vms.map(\.text) == ["web-*", "db1"])
        #expect(policy.schedule.text == "*:0/15")
        #expect(policy.timeZone.identifier == "Europe/Berlin")
        #expect(policy.memory == false)
        #expect(
            policy.retention
                == Retention(
                    last: 4, hourly: 24, daily: 7, weekly: 4, monthly: 6, yearly: 1,
                    within: 129_600, maxStoredBytes: 20 << 30))
        #expect(policy.source == SourceLocation(file: "web.yaml", line: 1))
    }

    /// One file at a time, as a daemon reloading a changed file would.
    @Test func parsesASingleFile() throws {
        let policy = try Policy(
            parsing: "name: a\nvms: a\nschedule: daily\n", file: "a.yaml",
            defaultTimeZone: TestTime.zone("UTC"))
        #expect(policy.name == "a")
        #expect(throws: PolicyErrors.self) {
            try Policy(parsing: "name: a\nvms: a\nschedule: dayly\n", file: "a.yaml", defaultTimeZone: TestTime.zone("UTC"))
        }
    }

    /// Found by the policy fuzz target: Yams describes a byte it cannot read by quoting the file over several lines.
    @Test func aControlCharacterIsOneLineNamingItsLine() {
        do {
            _ = try Policy(parsing: "name: a\nvms: a\nschedule: da\u{1}ily\n", file: "a.yaml", defaultTimeZone: TestTime.zone("UTC"))
            Issue.record("a control character was accepted")
        } catch {
            #expect(error.errors.map(\.description) == ["a.yaml:3: not valid YAML: control characters are not allowed (byte 27)"])
        }
    }

    /// Found by the policy fuzz target: a quoted value holding a line break, quoted back in the error.
    @Test func aValueSpanningLinesIsQuotedOnOneLine() {
        do {
            _ = try Policy(
                parsing: "name: a\nvms: a\nschedule: \"mon\\n\\e[31mfri 02:00\"\n", file: "a.yaml", defaultTimeZone: TestTime.zone("UTC"))
            Issue.record("a schedule with a line break was accepted")
        } catch {
            #expect(error.errors.count == 1)
            #expect(error.errors.allSatisfy { !$0.description.contains("\n") && !$0.description.contains("\u{1B}") })
            #expect(error.errors.first?.description.hasPrefix("a.yaml:3: schedule: 'mon\\n\\u{1B}[31mfri 02:00'") == true)
        }
    }

    @Test func defaultsToTheHostZoneAndMemory() throws {
        let set = try PolicySet(
            files: [(name: "a.yaml", text: "name: a\nvms: a\nschedule: daily\n")],
            defaultTimeZone: TestTime.zone("Asia/Tokyo"))
        #expect(set.policies[0].timeZone.identifier == "Asia/Tokyo")
        #expect(set.policies[0].memory)
        #expect(set.policies[0].retention.keepsEverything)
    }

    @Test(arguments: [
        ("web-*", "web-1", true), ("web-*", "db-1", false), ("web?", "web1", true),
        ("web?", "web12", false), ("web[0-3]", "web2", true), ("web[!0-3]", "web2", false),
        ("*-prod", "api-prod", true), ("*", "anything", true), ("a*b*c", "aXbYc", true),
        ("a*b*c", "aXbY", false), ("db1", "db1", true), ("db1", "db10", false),
    ])
    func globs(pattern: String, name: String, matches: Bool) {
        #expect(VMPattern(pattern).matches(name) == matches)
    }

    /// The examples shipped in `policies/` parse and form a valid set.
    @Test func shippedExamplesAreValid() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../policies").standardized
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(names.count >= 2)
        let files = try names.map {
            (
                name: "policies/\($0)",
                text: try String(contentsOf: directory.appendingPathComponent($0), encoding: .utf8)
            )
        }
        let set = try PolicySet(files: files, defaultTimeZone: TestTime.zone("UTC"))
        #expect(set.policies.count == names.count)
    }
}

@Suite("Policy files: durations and sizes")
struct PolicyValueTests {
    @Test(arguments: [
        ("90m", 5400.0), ("36h", 129_600), ("2d", 172_800), ("1w", 604_800), ("1d12h", 129_600),
        ("30s", 30),
    ])
    func durations(text: String, seconds: Double) {
        #expect(PolicyValues.duration(text) == seconds)
    }

    @Test(arguments: ["", "12", "h", "1x", "-1h", "1.5h", "0m", "h1"])
    func badDurations(text: String) {
        #expect(PolicyValues.duration(text) == nil)
    }

    @Test(arguments: [
        ("20G", UInt64(20) << 30), ("512M", 512 << 20), ("1T", 1 << 40), ("20GiB", 20 << 30),
        ("4096", 4096), ("8k", 8192), ("20GB", 20 << 30),
    ])
    func sizes(text: String, bytes: UInt64) {
        #expect(PolicyValues.size(text) == bytes)
    }

    @Test(arguments: ["", "G", "20Q", "0G", "-1G", "1.5G", "99999999999T"])
    func badSizes(text: String) {
        #expect(PolicyValues.size(text) == nil)
    }

    @Test func formatting() {
        #expect(PolicyValues.formatSize(20 << 30) == "20G")
        #expect(PolicyValues.formatSize(3 << 29) == "1.5G")
        #expect(PolicyValues.formatSize(100) == "100B")
        #expect(PolicyValues.formatDuration(129_600) == "1d12h")
    }
}
