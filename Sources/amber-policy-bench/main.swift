// Benchmark for `amber policy plan`: plans 100 VMs x 10,000 snapshots with the policy engine and compares it with
// a naive baseline that buckets with Foundation's Calendar and string keys (the obvious way to write it).
// Usage: amber-policy-bench [--vms N] [--snapshots N] [--runs N] [--shuffled]
import AmberPolicy
import Foundation

struct Options {
    var vms = 100
    var snapshotsPerVM = 10_000
    var runs = 11
    /// Snapshots in random order instead of the catalog's (grouped by VM, oldest first).
    var shuffled = false

    init(arguments: [String]) {
        var iterator = arguments.dropFirst().makeIterator()
        while let argument = iterator.next() {
            if argument == "--shuffled" {
                shuffled = true
                continue
            }
            guard let value = iterator.next().flatMap(Int.init), value > 0 else {
                fail("\(argument) needs a positive number")
            }
            switch argument {
            case "--vms": vms = value
            case "--snapshots": snapshotsPerVM = value
            case "--runs": runs = value
            default: fail("unknown option \(argument); allowed: --vms N --snapshots N --runs N --shuffled")
            }
        }
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("amber-policy-bench: \(message)\n".utf8))
    exit(2)
}

func milliseconds(_ work: () -> Void) -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    work()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
}

/// CPU time of this thread, in milliseconds: on a shared, busy machine wall time also counts time spent waiting
/// for a core, so both are reported.
func threadCPUMilliseconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) * 1e3 + Double(time.tv_nsec) / 1e6
}

let options = Options(arguments: CommandLine.arguments)
let policyFiles = [
    (
        name: "web.yaml",
        text: """
        name: web
        vms: ["web-*"]
        schedule: "*:0/15"
        timezone: Europe/Berlin
        keep: { last: 4, hourly: 24, daily: 7, weekly: 4, monthly: 6, yearly: 2 }
        within: 2d
        max_stored: 200G
        """
    ),
    (
        name: "db.yaml",
        text: """
        name: db
        vms: ["db-*"]
        schedule: hourly
        timezone: America/New_York
        keep: { last: 4, hourly: 24, daily: 7, weekly: 4, monthly: 6, yearly: 2 }
        """
    ),
]
let policies: PolicySet
do {
    policies = try PolicySet(files: policyFiles, defaultTimeZone: TimeZone(identifier: "UTC")!)
} catch {
    fail("\(error)")
}

// Catalog order: grouped by VM, oldest first; one snapshot every 15 minutes ending now; 1% protected.
let now = Date(timeIntervalSince1970: 1_795_000_000)
var vmNames: [String] = []
var snapshots: [SnapshotInfo] = []
snapshots.reserveCapacity(options.vms * options.snapshotsPerVM)
for vm in 0..<options.vms {
    let name = vm % 2 == 0 ? "web-\(vm)" : "db-\(vm)"
    vmNames.append(name)
    for index in 0..<options.snapshotsPerVM {
        let age = Double(options.snapshotsPerVM - index) * 900 + Double(vm)
        snapshots.append(
            SnapshotInfo(
                id: "\(name)/\(index)", vm: name, createdAt: now.addingTimeInterval(-age),
                sizeBytes: 64 << 20, isProtected: index % 100 == 7,
                policy: vm % 2 == 0 ? "web" : "db"))
    }
}

if options.shuffled {
    var random = SystemRandomNumberGenerator()
    snapshots.shuffle(using: &random)
}

var plan: Plan?
var timings: [Double] = []
var cpuTimings: [Double] = []
for _ in 0..<options.runs {
    plan = nil  // free the previous plan outside the timed region
    let cpuStart = threadCPUMilliseconds()
    timings.append(milliseconds { plan = Planner.plan(policies: policies, snapshots: snapshots, vms: vmNames, now: now) })
    cpuTimings.append(threadCPUMilliseconds() - cpuStart)
}
timings.sort()
cpuTimings.sort()
let median = timings[timings.count / 2]
let cpuMedian = cpuTimings[cpuTimings.count / 2]
let finalPlan = plan!
let pruned = finalPlan.decisions.filter { $0.action == .prune }.count

// Baseline: per VM, sort newest first, then Proxmox's marking with Calendar-derived string bucket keys.
func baselineKeptByRules(policy: Policy, snapshots: [SnapshotInfo]) -> Int {
    var calendar = Calendar(identifier: .gregorian)
    calendar.timeZone = policy.timeZone
    var iso = Calendar(identifier: .iso8601)
    iso.timeZone = policy.timeZone
    let newestFirst = snapshots.sorted { $0.createdAt > $1.createdAt }
    var marks: [String: Bool] = [:]
    for rule in KeepRule.allCases {
        let keep = policy.retention.count(for: rule)
        guard keep > 0 else { continue }
        func key(_ snapshot: SnapshotInfo) -> String {
            let c = calendar.dateComponents([.year, .month, .day, .hour], from: snapshot.createdAt)
            switch rule {
            case .last: return snapshot.id
            case .hourly: return "\(c.year!)/\(c.month!)/\(c.day!)/\(c.hour!)"
            case .daily: return "\(c.year!)/\(c.month!)/\(c.day!)"
            case .weekly:
                let w = iso.dateComponents([.yearForWeekOfYear, .weekOfYear], from: snapshot.createdAt)
                return "\(w.yearForWeekOfYear!)/\(w.weekOfYear!)"
            case .monthly: return "\(c.year!)/\(c.month!)"
            case .yearly: return "\(c.year!)"
            }
        }
        let covered = Set(newestFirst.filter { marks[$0.id] == true }.map(key))
        var included = Set<String>()
        for snapshot in newestFirst where marks[snapshot.id] == nil && !snapshot.isProtected {
            let bucket = key(snapshot)
            if covered.contains(bucket) { continue }
            if included.contains(bucket) {
                marks[snapshot.id] = false
            } else {
                if included.count >= keep { break }
                included.insert(bucket)
                marks[snapshot.id] = true
            }
        }
    }
    return marks.values.filter { $0 }.count
}

var baselineKept = 0
let baselineTime = milliseconds {
    let byVM = Dictionary(grouping: snapshots, by: \.vm)
    for (vm, list) in byVM {
        guard case .policy(let policy) = policies.ownership(of: vm) else { continue }
        baselineKept += baselineKeptByRules(policy: policy, snapshots: list)
    }
}
let engineKeptByRules = finalPlan.decisions.filter {
    switch $0.reason {
    case .keptByRule, .keptByLast, .overBudget(_, .keptByRule), .overBudget(_, .keptByLast): true
    default: false
    }
}.count

print(
    """
    amber policy plan benchmark: \(options.vms) VMs x \(options.snapshotsPerVM) snapshots \
    (\(snapshots.count) total, \(options.shuffled ? "shuffled" : "catalog order")), \(options.runs) runs
    engine plan: median \(String(format: "%.1f", median)) ms (min \(String(format: "%.1f", timings.first!)), \
    max \(String(format: "%.1f", timings.last!))); goal 100 ms: \(String(format: "%.2f", median / 100))x of budget
    engine plan CPU time: median \(String(format: "%.1f", cpuMedian)) ms (min \(String(format: "%.1f", cpuTimings.first!)))
    decisions: \(snapshots.count - pruned) kept, \(pruned) pruned, \(finalPlan.due.count) schedules due
    naive baseline (Calendar + string buckets + sort, keep rules only): \(String(format: "%.0f", baselineTime)) ms, \
    \(String(format: "%.1f", baselineTime / median))x the engine's median
    agreement on snapshots kept by keep rules: engine \(engineKeptByRules), baseline \(baselineKept) \
    \(engineKeptByRules == baselineKept ? "(match)" : "(MISMATCH)")
    """)
if engineKeptByRules != baselineKept { exit(1) }
