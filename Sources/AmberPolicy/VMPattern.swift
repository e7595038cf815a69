/// A VM name or a shell-style glob over VM names: `*` any run of characters, `?` one character,
/// `[abc]` / `[a-z]` / `[!a-z]` one character from (or not from) a set.
public struct VMPattern: Sendable, Hashable, CustomStringConvertible {
    public let text: String
    private let characters: [Character]

    public init(_ text: String) {
        self.text = text
        characters = Array(text)
    }

    public var description: String { text }

    /// True when the pattern has no wildcards, so it names exactly one VM.
    public var isLiteral: Bool { !characters.contains { $0 == "*" || $0 == "?" || $0 == "[" } }

    /// A problem with the pattern's syntax, if any.
    var syntaxProblem: String? {
        if text.isEmpty { return "is empty" }
        var index = 0
        while index < characters.count {
            if characters[index] == "[" {
                guard let close = characters[(index + 1)...].firstIndex(of: "]"), close > index + 1 else {
                    return "has '[' without a closing ']'"
                }
                index = close
            }
            index += 1
        }
        return nil
    }

    public func matches(_ name: String) -> Bool {
        Self.match(pattern: characters[...], name: Array(name)[...])
    }

    private static func match(pattern: ArraySlice<Character>, name: ArraySlice<Character>) -> Bool {
        var p = pattern.startIndex
        var n = name.startIndex
        // Position after the last `*` and the name position it was tried against, for backtracking.
        var star: (pattern: Int, name: Int)?
        while n < name.endIndex {
            if p < pattern.endIndex, pattern[p] == "*" {
                star = (p + 1, n)
                p += 1
                continue
            }
            if p < pattern.endIndex, let width = matchOne(pattern: pattern, at: p, character: name[n]) {
                p += width
                n += 1
                continue
            }
            guard let resume = star else { return false }
            star = (resume.pattern, resume.name + 1)
            p = resume.pattern
            n = resume.name + 1
        }
        while p < pattern.endIndex, pattern[p] == "*" { p += 1 }
        return p == pattern.endIndex
    }

    /// If the pattern element at `p` matches `character`, how many pattern characters it spans.
    private static func matchOne(pattern: ArraySlice<Character>, at p: Int, character: Character) -> Int? {
        switch pattern[p] {
        case "?":
            return 1
        case "[":
            guard let close = pattern[(p + 1)...].firstIndex(of: "]") else { return pattern[p] == character ? 1 : nil }
            var index = p + 1
            let negated = pattern[index] == "!" || pattern[index] == "^"
            if negated { index += 1 }
            var found = false
            while index < close {
                if index + 2 < close, pattern[index + 1] == "-" {
                    if pattern[index] <= character && character <= pattern[index + 2] { found = true }
                    index += 3
                } else {
                    if pattern[index] == character { found = true }
                    index += 1
                }
            }
            return found != negated ? close - p + 1 : nil
        default:
            return pattern[p] == character ? 1 : nil
        }
    }
}
