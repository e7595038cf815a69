import AmberCore

/// `--json` output: one value, encoded by `JSONOutput` (one configuration for every command), on stdout.
public func printJSON<T: Encodable>(_ value: T) throws {
    print(try JSONOutput.string(value))
}
