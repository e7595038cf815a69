import Foundation

/// All policies in effect, checked as a whole: names are unique and, as far as the files alone can tell, no VM is
/// claimed by two policies.
///
/// One VM, one policy: a VM whose name matches the `vms` of two policies is an error, never a merge, because any
/// merge rule (first file wins, union of keeps...) would silently keep or prune what one of the two files promises.
/// Literal names and identical globs are caught here; two different globs that both match a real VM (`web-*` and
/// `*-prod`) can only be caught against the VM list, by `ownership(of:)`, which then names both policies.
public struct PolicySet: Sendable {
    public let policies: [Policy]

    public init(policies: [Policy]) throws(PolicyErrors) {
        var errors: [PolicyError] = []
        var byName: [String: Policy] = [:]
        for policy in policies {
            if let earlier = byName[policy.name] {
                errors.append(
                    PolicyError(
                        policy.source, field: "name",
                        "policy '\(policy.name)' is already defined at "
                            + "\(earlier.source); policy names must be unique across files"))
            } else {
                byName[policy.name] = policy
            }
        }
        for (index, policy) in policies.enumerated() {
            for other in policies[..<index] where other.name != policy.name {
                if let overlap = Self.staticOverlap(policy, other) {
                    errors.append(
                        PolicyError(
                            policy.source, field: "vms",
                            "\(overlap) is matched by policies "
                                + "'\(other.name)' (\(other.source)) and '\(policy.name)'; a VM may belong to one policy only, "
                                + "narrow one of the vms lists"))
                }
            }
        }
        guard errors.isEmpty else { throw PolicyErrors(errors: errors) }
        self.policies = policies
    }

    /// Parses every file (name, text) and checks the whole set; reports every problem in every file.
    public init(files: [(name: String, text: String)], defaultTimeZone: TimeZone) throws(PolicyErrors) {
        var errors: [PolicyError] = []
        var policies: [Policy] = []
        for file in files {
            var parser = PolicyParser(file: file.name, defaultTimeZone: defaultTimeZone)
            if let policy = parser.parse(file.text) { policies.append(policy) }
            errors += parser.errors
        }
        guard errors.isEmpty else {
            // Report set-level problems (duplicates, overlaps) among the files that did parse, too.
            if case .failure(let setErrors) = Result(catching: { () throws(PolicyErrors) in try PolicySet(policies: policies) }) {
                errors += setErrors.errors
            }
            throw PolicyErrors(errors: errors)
        }
        try self.init(policies: policies)
    }

    /// Which policy a VM belongs to.
    public enum Ownership: Sendable, Equatable {
        case none
        case policy(Policy)
        /// Matched by more than one policy: nothing is scheduled or pruned for the VM until that is fixed.
        case conflict([Policy])
    }

    public func ownership(of vm: String) -> Ownership {
        let matching = policies.filter { $0.applies(to: vm) }
        switch matching.count {
        case 0: return .none
        case 1: return .policy(matching[0])
        default: return .conflict(matching)
        }
    }

    private static func staticOverlap(_ a: Policy, _ b: Policy) -> String? {
        for pattern in a.vms {
            if pattern.isLiteral, b.applies(to: pattern.text) { return "VM '\(pattern.text)'" }
            if b.vms.contains(pattern) { return "every VM matching '\(pattern.text)'" }
        }
        for pattern in b.vms where pattern.isLiteral && a.applies(to: pattern.text) {
            return "VM '\(pattern.text)'"
        }
        return nil
    }
}
