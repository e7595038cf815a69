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

    public var description: String {
        if let field { return "\(location): \(field): \(message)" }
        return "\(location): \(message)"
    }
}

/// Every problem found in a set of policy files, one per line.
public struct PolicyErrors: Error, CustomStringConvertible, Sendable {
    public let errors: [PolicyError]
    public var description: String { errors.map(\.description).joined(separator: "\n") }
}
