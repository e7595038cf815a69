import Foundation

/// Every `--json` output of `amber` goes through here, so all of them look alike (docs/cli-json.md):
/// pretty-printed with sorted keys, field names in lowerCamelCase, dates as ISO 8601 in UTC
/// (`2026-12-07T10:00:00Z`), an optional without a value left out (never `null`), empty arrays and
/// objects as `[]` and `{}`, and a non-finite ratio as the string "inf".
public enum JSONOutput {
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }

    public static func string<T: Encodable>(_ value: T) throws -> String {
        compactingEmptyContainers(String(decoding: try encoder().encode(value), as: UTF8.self))
    }

    /// Foundation pretty-prints an empty array as "[", a blank line, "]"; scripts and people expect "[]".
    /// Safe on the text: a JSON string never holds a raw newline.
    static func compactingEmptyContainers(_ text: String) -> String {
        guard text.contains("\n\n") else { return text }
        var result = ""
        result.reserveCapacity(text.utf8.count)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false)[...]
        while let line = lines.popFirst() {
            if let opener = line.last, opener == "[" || opener == "{", lines.first?.isEmpty == true,
                let closing = lines.dropFirst().first,
                closing.trimmingCharacters(in: .whitespaces).hasPrefix(opener == "[" ? "]" : "}")
            {
                let rest = closing.trimmingCharacters(in: .whitespaces).dropFirst()
                result += line + (opener == "[" ? "]" : "}") + rest + "\n"
                lines = lines.dropFirst(2)
                continue
            }
            result += line + "\n"
        }
        result.removeLast()
        return result
    }
}
