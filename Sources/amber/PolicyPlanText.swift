import AmberCatalog
import AmberPolicy
import Foundation

/// The text forms of `amber policy plan`. The default stays readable at a million snapshots: per VM, how many each
/// rule keeps and what would be pruned, naming only the newest few prunes; `--verbose` lists every snapshot.
struct PlanText {
    /// Prunes named per VM in the default output; the rest are counted.
    static let listedPrunes = 10

    let plan: GroupedPlan
    /// Per VM (as in `plan.vms`), every snapshot id; nil when not read (only `--verbose` needs them).
    let ids: [SnapshotIDList?]
    /// Per VM, the ids of the prunes the default output lists (`listedPrunes(_:)`), by position.
    let listedIDs: [[Int: String]]

    /// Positions of the newest prunes of a VM, at most `listedPrunes` of them, oldest first.
    static func listedPrunes(_ vmPlan: VMPlan) -> [Int] {
        var positions: [Int] = []
        for position in vmPlan.verdicts.indices.reversed() where vmPlan.verdicts[position].action == .prune {
            guard positions.count < listedPrunes else { break }
            positions.append(position)
        }
        return positions.reversed()
    }

    /// `--summary`: one count line per VM.
    func writeCounts(to output: inout BufferedOutput) {
        for vmPlan in plan.vms {
            output.line("\(vmPlan.vm): \(vmPlan.snapshots.count - vmPlan.pruneCount) kept, \(vmPlan.pruneCount) to prune")
        }
    }

    /// The default: per VM a heading, what keeps how many, and the newest prunes with their reasons.
    func writePerVM(to output: inout BufferedOutput) {
        for (vmIndex, vmPlan) in plan.vms.enumerated() {
            let total = vmPlan.snapshots.count
            let pruned = vmPlan.pruneCount
            output.line("VM \(vmPlan.vm) (\(owner(of: vmPlan))): \(total) snapshot\(total == 1 ? "" : "s"), "
                + (pruned == 0 ? "all kept" : "\(total - pruned) kept, \(pruned) to prune"))
            var counts = [Int](repeating: 0, count: Verdict.Kind.allCases.count)
            var overBudget = 0
            for verdict in vmPlan.verdicts {
                if verdict.overBudget { overBudget += 1 } else { counts[Int(verdict.kind.rawValue)] += 1 }
            }
            let keptParts = Verdict.Kind.allCases.filter { $0 != .notSelected && counts[Int($0.rawValue)] > 0 }
                .map { "\(counts[Int($0.rawValue)]) \(label($0, vmPlan))" }
            if !keptParts.isEmpty { output.line("  kept: " + keptParts.joined(separator: ", ")) }
            guard pruned > 0 else { continue }
            var pruneParts: [String] = []
            if counts[Int(Verdict.Kind.notSelected.rawValue)] > 0 {
                pruneParts.append("\(counts[Int(Verdict.Kind.notSelected.rawValue)]) not selected by any keep rule")
            }
            if overBudget > 0, let budget = vmPlan.policy?.retention.maxStoredText {
                pruneParts.append("\(overBudget) over max_stored \(budget)")
            }
            output.line("  to prune: " + pruneParts.joined(separator: ", "))
            let listed = Self.listedPrunes(vmPlan)
            if pruned > listed.count {
                output.line("  (\(pruned - listed.count) older ones not listed here; --verbose lists every snapshot)")
            }
            for position in listed {
                output.append("  prune ")
                output.append(listedIDs[vmIndex][position] ?? "?")
                output.append("  ")
                output.appendUTC(Date(timeIntervalSince1970: vmPlan.snapshots.created[position]))
                output.append("  ")
                let reason = vmPlan.decision(at: position).description
                output.line(reason.hasPrefix("pruned: ") ? String(reason.dropFirst(8)) : reason)
            }
        }
    }

    /// `--verbose`: one line per snapshot with its action and reason.
    func writeEverySnapshot(to output: inout BufferedOutput) {
        guard plan.snapshotCount > 0 else { return }
        let vmWidth = max(2, plan.vms.lazy.map(\.vm.utf8.count).max() ?? 0)
        var idWidth = 8
        for list in ids.compactMap({ $0 }) {
            for position in 0..<list.count { idWidth = max(idWidth, list.withBytes(at: position) { $0.count }) }
        }
        output.line(Self.pad("SNAPSHOT", idWidth) + "  " + Self.pad("VM", vmWidth) + "  CREATED               ACTION  REASON")
        let spaces = [UInt8](repeating: UInt8(ascii: " "), count: max(idWidth, vmWidth))
        for (vmPlan, ids) in zip(plan.vms, ids) {
            let vmColumn = Self.pad(vmPlan.vm, vmWidth)
            for position in vmPlan.verdicts.indices {
                let idLength = ids?.withBytes(at: position) { bytes in
                    output.append(bytes: bytes)
                    return bytes.count
                } ?? 0
                spaces.withUnsafeBufferPointer { output.append(bytes: UnsafeBufferPointer(rebasing: $0[..<(idWidth - idLength)])) }
                output.append("  ")
                output.append(vmColumn)
                output.append("  ")
                output.appendUTC(Date(timeIntervalSince1970: vmPlan.snapshots.created[position]))
                output.append(vmPlan.verdicts[position].action == .keep ? "  keep    " : "  prune   ")
                output.line(vmPlan.decision(at: position).description)
            }
        }
    }

    func writeTotalsAndSchedules(to output: inout BufferedOutput) {
        let total = plan.snapshotCount
        let pruned = plan.pruneCount
        output.line("\(total) snapshots: \(total - pruned) kept, \(pruned) to prune")
        if plan.schedules.isEmpty {
            output.line("no VM is owned by a policy")
        } else {
            output.line("")
            output.line("POLICY / VM  LAST RUN  NEXT RUN")
            for schedule in plan.schedules {
                let next = schedule.nextRun.map(PolicyTimeText.utc) ?? "never"
                output.line("\(schedule.policy) / \(schedule.vm)  \(schedule.lastRun.map(PolicyTimeText.utc) ?? "never")  "
                    + (schedule.isDue ? "due now (slot \(next))" : next))
            }
        }
        for conflict in plan.conflicts { output.line("conflict: \(conflict)") }
    }

    private func owner(of vmPlan: VMPlan) -> String {
        if let policy = vmPlan.policy { return "policy \(policy.name)" }
        if let names = vmPlan.conflictingPolicies {
            return "matched by policies \(names.map { "'\($0)'" }.joined(separator: " and ")): nothing is pruned"
        }
        return "no policy"
    }

    private func label(_ kind: Verdict.Kind, _ vmPlan: VMPlan) -> String {
        switch kind {
        case .keptByLast, .keptHourly, .keptDaily, .keptWeekly, .keptMonthly, .keptYearly:
            return "by keep-\(kind.rule!.rawValue)"
        case .keptWithin:
            return Reason.keptWithin(vmPlan.policy?.retention.within ?? 0).description.replacingOccurrences(of: "kept ", with: "")
        case .keptNewest: return "newest"
        case .keptAll: return "(the policy has no keep rules)"
        case .protected: return "protected"
        case .inUse: return "in use"
        case .manual: return "taken by hand"
        case .noPolicy: return "(no policy applies)"
        case .foreignPolicy: return "taken by a policy that does not apply"
        case .conflict: return "(policies conflict)"
        case .notSelected: return "not selected"
        }
    }

    static func pad(_ text: String, _ width: Int) -> String {
        let count = text.utf8.count
        return count >= width ? text : text + String(repeating: " ", count: width - count)
    }
}
