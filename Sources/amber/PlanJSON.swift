import AmberCatalog
import AmberCore
import AmberPolicy
import Foundation

/// `amber policy plan --json`, written as it goes: JSONEncoder builds the whole tree of a million snapshots
/// first (measured: twice the time of the text output). Same fields as `Plan`'s Encodable form.
enum PlanJSON {
    /// Keys in sorted order and `[]` for an empty list, as `JSONOutput` writes everything else (docs/cli-json.md).
    static func write(_ plan: GroupedPlan, ids: [SnapshotIDList], to output: inout BufferedOutput) {
        output.append("{\n  \"conflicts\" : [")
        for (index, conflict) in plan.conflicts.enumerated() {
            output.append(index == 0 ? "\n" : ",\n")
            output.append(
                "    { \"message\" : \(quoted(conflict.description)), "
                    + "\"policies\" : [\(conflict.policies.map(quoted).joined(separator: ", "))], \"vm\" : \(quoted(conflict.vm)) }")
        }
        output.append(plan.conflicts.isEmpty ? "]" : "\n  ]")
        output.append(",\n  \"now\" : \(quoted(TimeText.utc(plan.now))),\n  \"schedules\" : [")
        for (index, schedule) in plan.schedules.enumerated() {
            output.append(index == 0 ? "\n" : ",\n")
            var fields = ["\"due\" : \(schedule.isDue)"]
            if let lastRun = schedule.lastRun { fields.append("\"lastRun\" : \(quoted(TimeText.utc(lastRun)))") }
            fields.append("\"memory\" : \(schedule.memory)")
            if let nextRun = schedule.nextRun { fields.append("\"nextRun\" : \(quoted(TimeText.utc(nextRun)))") }
            fields += ["\"policy\" : \(quoted(schedule.policy))", "\"vm\" : \(quoted(schedule.vm))"]
            output.append("    { " + fields.joined(separator: ", ") + " }")
        }
        output.append(plan.schedules.isEmpty ? "]" : "\n  ]")
        output.append(",\n  \"snapshots\" : [")
        var first = true
        for (vmPlan, ids) in zip(plan.vms, ids) {
            let vm = Array(quoted(vmPlan.vm).utf8)
            for position in vmPlan.verdicts.indices {
                // Piece by piece into the output buffer: building each line as a String first doubled the run time.
                output.append(first ? "\n    { \"action\" : \"" : ",\n    { \"action\" : \"")
                first = false
                output.append(vmPlan.verdicts[position].action == .keep ? "keep\", \"created\" : \"" : "prune\", \"created\" : \"")
                output.appendUTC(Date(timeIntervalSince1970: vmPlan.snapshots.created[position]))
                output.append("\", \"id\" : ")
                ids.withBytes(at: position) { appendQuoted(bytes: $0, to: &output) }
                output.append(", \"reason\" : ")
                appendQuoted(vmPlan.decision(at: position).description, to: &output)
                output.append(", \"vm\" : ")
                vm.withUnsafeBufferPointer { output.append(bytes: $0) }
                output.append(" }")
            }
        }
        output.append(first ? "]\n}" : "\n  ]\n}")
        output.line("")
    }

    static func appendQuoted(_ text: String, to output: inout BufferedOutput) {
        if needsEscaping(text.utf8) { return output.append(quoted(text)) }
        output.append("\"")
        output.append(text)
        output.append("\"")
    }

    static func appendQuoted(bytes: UnsafeBufferPointer<UInt8>, to output: inout BufferedOutput) {
        if needsEscaping(bytes) { return output.append(quoted(String(decoding: bytes, as: UTF8.self))) }
        output.append("\"")
        output.append(bytes: bytes)
        output.append("\"")
    }

    private static func needsEscaping<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> Bool {
        bytes.contains { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }
    }

    /// A JSON string literal.
    static func quoted(_ text: String) -> String {
        if !text.utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            return "\"" + text + "\""
        }
        var result = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\t": result += "\\t"
            case "\r": result += "\\r"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: result.unicodeScalars.append(scalar)
            }
        }
        return result + "\""
    }
}
