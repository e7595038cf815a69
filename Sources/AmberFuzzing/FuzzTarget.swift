/// One fuzz target: a parser of bytes Amber did not just write (a pack, a manifest root, a machine
/// state, a configuration, a control message, a policy file, a key slot, a record file, a network's files), fed one input at a time.
///
/// `run` hands the bytes to the real parser. A clear error from the parser is the expected answer to
/// bad bytes and ends the run quietly; a crash is a bug, and so is an input the parser accepts but
/// that breaks what its readers rely on (a count out of bounds, a value that does not re-encode to
/// itself): `run` throws `BrokenInvariant` for those. libFuzzer (`amber-fuzz`) turns that into a crash
/// it saves; the corpus replay (AmberFuzzingTests) into a failed expectation.
public struct FuzzTarget: Sendable {
    public let name: String
    public let run: @Sendable (UnsafeRawBufferPointer) throws -> Void

    /// Every target; `name` is also its corpus directory, `Fuzz/corpus/<name>`.
    public static let all: [FuzzTarget] = [
        FuzzTarget(name: "pack", run: { try PackFuzzTarget.run($0) }),
        FuzzTarget(name: "delta", run: { try DeltaFuzzTarget.run($0) }),
        FuzzTarget(name: "manifest", run: { try ManifestFuzzTarget.run($0) }),
        FuzzTarget(name: "machine-state", run: { try MachineStateFuzzTarget.run($0) }),
        FuzzTarget(name: "vm-config", run: { try VMConfigurationFuzzTarget.run($0) }),
        FuzzTarget(name: "control-request", run: { try ControlRequestFuzzTarget.run($0) }),
        FuzzTarget(name: "control-response", run: { try ControlResponseFuzzTarget.run($0) }),
        FuzzTarget(name: "policy", run: { try PolicyFuzzTarget.run($0) }),
        FuzzTarget(name: "key-slot", run: { try KeySlotFuzzTarget.run($0) }),
        FuzzTarget(name: "record", run: { try RecordFuzzTarget.run($0) }),
        FuzzTarget(name: "network-definition", run: { try NetworkFilesFuzzTarget.runDefinition($0) }),
        FuzzTarget(name: "network-attachments", run: { try NetworkFilesFuzzTarget.runAttachments($0) }),
    ]

    public static func named(_ name: String) -> FuzzTarget? {
        all.first { $0.name == name }
    }

    /// Runs `bytes` through the target (what the replay test and the corpus tools call).
    public func run(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try run($0) }
    }
}

/// A parser accepted an input but what it produced breaks a promise its readers rely on.
public struct BrokenInvariant: Error, CustomStringConvertible {
    public let description: String
}

/// Throws `BrokenInvariant` unless `condition` holds.
func require(_ condition: Bool, _ message: @autoclosure () -> String) throws {
    if !condition { throw BrokenInvariant(description: message()) }
}

/// A parser's refusal must be one line (it is what a user reads): a multi-line dump is a broken promise.
func requireOneLine(_ error: Error, from parser: String) throws {
    let text = "\(error)"
    try require(!text.contains("\n"), "\(parser) refused an input with a message of several lines: \(text)")
}
