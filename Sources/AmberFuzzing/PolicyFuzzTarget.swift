import AmberPolicy
import Foundation

/// A policy file (`policies/*.yaml`) as `amber policy check` and amberd read it: YAML parsed and every
/// field checked (`PolicySet`). An accepted policy's schedule is then asked for its next run, as
/// amberd's scheduler asks it, which must end and lie in the future.
enum PolicyFuzzTarget {
    /// A fixed "now", so a replay does not depend on the day it runs.
    static let now = Date(timeIntervalSince1970: 1_796_601_600)  // 2026-12-07 00:00 UTC
    static let utc = TimeZone(identifier: "UTC")!

    static func run(_ bytes: UnsafeRawBufferPointer) throws {
        let text = String(decoding: bytes, as: UTF8.self)
        let set: PolicySet
        do {
            set = try PolicySet(files: [(name: "fuzz.yaml", text: text)], defaultTimeZone: utc)
        } catch {
            for problem in error.errors { try requireOneLine(problem, from: "the policy parser") }
            return
        }
        for policy in set.policies {
            try require(!policy.name.isEmpty && !policy.vms.isEmpty, "policy '\(policy.name)' accepted without a name or VMs")
            if let next = policy.schedule.next(after: now, in: policy.timeZone) {
                try require(next > now, "schedule '\(policy.schedule)' next fires at \(next), not after \(now)")
            }
            _ = policy.applies(to: "web-1")
        }
    }
}
