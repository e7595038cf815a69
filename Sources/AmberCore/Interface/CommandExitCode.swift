import AmberCatalog
import AmberNetwork
import AmberPolicy
import AmberStore

/// The exit codes of `amber` and `amberd`, each with one meaning (docs/cli.md lists them). The foreground
/// `amber run` and `amber clone` are the exception: they exit with their VM's own code (amber-vmm's 0, 1 or 2,
/// or 128 + a signal), as a shell's child would.
public enum CommandExitCode {
    public static let success: Int32 = 0
    /// Anything not below: an I/O error, a full disk, a wrong key.
    public static let failure: Int32 = 1
    /// The command line is wrong: an unknown option or subcommand, a bad value, or a name (VM, snapshot, image)
    /// that names nothing. sysexits' EX_USAGE.
    public static let usage: Int32 = 64
    /// Understood and refused: the input or the state does not allow it (invalid policy files, a VM that is
    /// already running, a protected snapshot, a disk-only snapshot to roll back to). sysexits' EX_DATAERR.
    public static let refused: Int32 = 65
    /// A VM or its guest failed: amber-vmm did not start, stopped answering or refused a snapshot, a rollback
    /// did not come up. sysexits' EX_UNAVAILABLE.
    public static let vmFailure: Int32 = 69
    /// Damage was found in the store (`store verify`, `store repair`, a chunk that fails its hash while being
    /// read). sysexits' EX_IOERR.
    public static let corruption: Int32 = 74
    /// Busy, try again: the VM refused because of an operation under way (a snapshot holds it), or another
    /// command held the store's lease past the wait. A script or amberd retries on this code alone; every
    /// other refusal will not change by waiting. sysexits' EX_TEMPFAIL.
    public static let busy: Int32 = 75

    /// The code for an error that reached the top of a command.
    public static func code(for error: Error) -> Int32 {
        switch error {
        case let error as VMLifecycleError: return code(for: error)
        case let error as SnapshotError: return code(for: error)
        case let error as ImageError: return code(for: error)
        case let error as NetworkError: return error.isUsageError ? usage : error.isFailure ? failure : refused
        case is VMRequestError, is NoStoreError: return usage
        case is PolicyErrors, is PolicyError, is PolicyDirectoryError, is CalendarEventError: return refused
        case let error as StoreError: return code(for: error)
        case let error as CatalogError:
            if case .damagedSnapshotRow = error { return corruption }
            return failure
        case is CorruptionFound: return corruption
        case let error as GarbageCollectionRefusal:
            if case .damagedRecords = error { return corruption }
            return refused
        default: return failure
        }
    }

    private static func code(for error: VMLifecycleError) -> Int32 {
        if error.refusal?.isTransient == true { return busy }
        switch error {
        case .notFound: return usage
        case .notRunning, .alreadyRunning, .nameTaken, .removingRunning, .noConsoleLog, .refused: return refused
        case .vmmNotFound, .spawnFailed, .unreachable, .protocolViolation, .exitedDuringStart, .startTimedOut,
            .stopTimedOut, .setAside:
            return vmFailure
        }
    }

    private static func code(for error: SnapshotError) -> Int32 {
        switch error {
        case .unknownSnapshot, .ambiguousSnapshot, .ambiguousLabel, .belongsToOtherVM, .noneAtOrBefore, .noSnapshots: return usage
        case .noConfiguration, .tooManyDisks, .protected, .unusable: return refused
        case .memoryUnreadable, .diskUnreadable, .untrustedCapture, .rollbackFailed: return vmFailure
        }
    }

    private static func code(for error: ImageError) -> Int32 {
        switch error {
        case .unknownImage, .invalidName: return usage
        case .duplicateName, .outputIsDirectory, .outputDirectoryMissing, .homeIsNotADirectory, .badLeaseTimeout:
            return refused
        }
    }

    private static func code(for error: StoreError) -> Int32 {
        switch error {
        case .leaseTimeout: return busy
        case .corruptChunk, .missingChunk, .missingPack, .badManifest, .badIndexRow, .badRecord: return corruption
        case .notAStore, .newerFormat, .newerPack, .unsupportedSource, .storeExists, .plainMarkerWithKeys,
            .invalidChunkSize, .chunkTooLarge:
            return refused
        default: return failure
        }
    }
}

/// Thrown by a check (`store verify`, `store repair`) that printed its report and found damage.
public struct CorruptionFound: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "damage found (see above)" }
}
