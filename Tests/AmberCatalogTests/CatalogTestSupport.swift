@testable import AmberCatalog
import AmberTestSupport
import Foundation

func digest(_ seed: UInt8) -> [UInt8] { [UInt8](repeating: seed, count: 32) }

/// A full snapshot row of `vm` created `seconds` after the epoch, for tests that need rows to plan over.
func snapshot(
    _ id: String, vm: String, at seconds: Double, policy: String?, protected: Bool = false,
    stored: Int64 = 10
) -> SnapshotRecord {
    SnapshotRecord(
        id: id, vm: vm, created: Date(timeIntervalSince1970: seconds), kind: "full",
        memoryManifest: digest(1), logicalBytes: 100, storedBytes: stored, pauseMicroseconds: 5,
        protected: protected, policy: policy)
}
