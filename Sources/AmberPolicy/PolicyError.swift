/// A problem in a policy file: where, which field, what is wrong and what is allowed.
public struct PolicyError: Error, CustomStringConvertible, Hashable, Sendable {
    public let location: SourceLocation
    /// Dotted field path (`keep.daily`); nil for problems with the file as a whole.
    public let field: String?
    public let message: String

    public init(_ location: SourceLocation, field: String?, _ message: String) {
        self.location = location
        self.field = field
        self.message = message
    }

    /// One line whatever the file holds: a value quoted from it may span lines (a quoted or block scalar)
    /// or hold terminal escapes, so control characters are written escaped (found by the policy fuzz target).
    public var description: String {
        let text = field.map { "\(location): \($0): \(message)" } ?? "\(location): \(message)"
        return text.unicodeScalars.map { $0.properties.generalCategory == .control ? $0.escaped(asASCII: true) : String($0) }.joined()
    }
}

/// Every problem found in a set of policy files, one per line.
public struct PolicyErrors: Error, CustomStringConvertible, Sendable {
    public let errors: [PolicyError]
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
