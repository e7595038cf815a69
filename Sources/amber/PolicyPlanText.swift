import AmberCatalog
import AmberCore
import AmberPolicy
import Foundation

/// The text forms of `amber policy plan`. The default stays readable at a million snapshots: per VM, how many each
/// rule keeps and what would be pruned, naming only the newest few prunes; `--verbose` lists every snapshot.
enum PlanText {
    /// Prunes named per VM in the default output; the rest are counted.
    static let listedPrunes = 10

    /// `--summary`: one count line per VM.
    static func writeCounts(_ vms: [VMPlanDigest], to output: inout BufferedOutput) {
        for vm in vms {
            output.line("\(vm.vm): \(vm.snapshotCount - vm.pruneCount) kept, \(vm.pruneCount) to prune")
        }
    }

    /// The default: per VM a heading, what keeps how many, and the newest prunes with their reasons.
    static func writePerVM(_ vms: [VMPlanDigest], to output: inout BufferedOutput) {
        for vm in vms {
            let total = vm.snapshotCount
            let pruned = vm.pruneCount
            output.line(
                "VM \(vm.vm) (\(owner(of: vm))): \(total) snapshot\(total == 1 ? "" : "s"), "
                    + (pruned == 0 ? "all kept" : "\(total - pruned) kept, \(pruned) to prune"))
            let keptParts = Verdict.Kind.allCases.filter { $0 != .notSelected && vm.count($0) > 0 }
                .map { "\(vm.count($0)) \(label($0, vm))" }
            if !keptParts.isEmpty { output.line("  kept: " + keptParts.joined(separator: ", ")) }
            guard pruned > 0 else { continue }
            var pruneParts: [String] = []
            if vm.count(.notSelected) > 0 { pruneParts.append("\(vm.count(.notSelected)) not selected by any keep rule") }
            if vm.overBudgetCount > 0, let budget = vm.policy?.retention.maxStoredText {
                pruneParts.append("\(vm.overBudgetCount) over max_stored \(budget)")
            }
            output.line("  to prune: " + pruneParts.joined(separator: ", "))
            if pruned > vm.listedPrunes.count {
                output.line("  (\(pruned - vm.listedPrunes.count) older ones not listed here; --verbose lists every snapshot)")
            }
            for listed in vm.listedPrunes {
                output.append("  prune ")
                output.append(listed.id ?? "?")
                output.append("  ")
                output.appendUTC(listed.created)
                output.append("  ")
                let reason = listed.decision.description
                output.line(reason.hasPrefix("pruned: ") ? String(reason.dropFirst(8)) : reason)
            }
        }
    }

    /// `--verbose`: one line per snapshot with its action and reason.
    static func writeEverySnapshot(_ plan: GroupedPlan, ids: [SnapshotIDList], to output: inout BufferedOutput) {
        guard plan.snapshotCount > 0 else { return }
        let vmWidth = max(2, plan.vms.lazy.map(\.vm.utf8.count).max() ?? 0)
        var idWidth = 8
        for list in ids {
            for position in 0..<list.count { idWidth = max(idWidth, list.withBytes(at: position) { $0.count }) }
        }
        output.line(pad("SNAPSHOT", idWidth) + "  " + pad("VM", vmWidth) + "  CREATED               ACTION  REASON")
        let spaces = [UInt8](repeating: UInt8(ascii: " "), count: idWidth)
        for (vmPlan, ids) in zip(plan.vms, ids) {
            let vmColumn = pad(vmPlan.vm, vmWidth)
            for position in vmPlan.verdicts.indices {
                let idLength = ids.withBytes(at: position) { bytes in
                    output.append(bytes: bytes)
                    return bytes.count
                }
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

    static func writeTotals(
        snapshots: Int, pruned: Int, schedules: [ScheduleStatus], conflicts: [PolicyConflict],
        to output: inout BufferedOutput
    ) {
        output.line("\(snapshots) snapshots: \(snapshots - pruned) kept, \(pruned) to prune")
        if schedules.isEmpty {
            output.line("no VM is owned by a policy")
        } else {
            output.line("")
            output.line("POLICY / VM  LAST RUN  NEXT RUN")
            for schedule in schedules {
                let next = schedule.nextRun.map(TimeText.utc) ?? "never"
                output.line(
                    "\(schedule.policy) / \(schedule.vm)  \(schedule.lastRun.map(TimeText.utc) ?? "never")  "
                        + (schedule.isDue ? "due now (slot \(next))" : next))
            }
        }
        for conflict in conflicts { output.line("conflict: \(conflict)") }
    }

    private static func owner(of vm: VMPlanDigest) -> String {
        if let policy = vm.policy { return "policy \(policy.name)" }
        if let names = vm.conflictingPolicies {
            return "matched by policies \(names.map { "'\($0)'" }.joined(separator: " and ")): nothing is pruned"
        }
        return "no policy"
    }

    private static func label(_ kind: Verdict.Kind, _ vm: VMPlanDigest) -> String {
        switch kind {
        case .keptByLast, .keptHourly, .keptDaily, .keptWeekly, .keptMonthly, .keptYearly:
            return "by keep-\(kind.rule!.rawValue)"
        case .keptWithin:
            return Reason.keptWithin(vm.policy?.retention.within ?? 0).description.replacingOccurrences(of: "kept ", with: "")
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
