import AmberModel
import AmberStore
import Foundation

extension SnapshotService {
    /// Stores `memory` and `state` as a snapshot of `vm` and records it exactly as `take` records a captured one
    /// (chunks, the store's record, the catalog row, in the same commit), without a running VM: for benchmarks
    /// that need thousands of snapshots (`amber-records-bench`). Not for rollback: the state is not a machine's.
    public func storeSynthetic(
        vm: String, configJSON: String, created: Date, memory: UnsafeRawBufferPointer, state: [UInt8],
        label: String? = nil, policy: String? = nil
    ) throws -> SnapshotSummary {
        try VMName.validate(vm)
        let context = try StoreContext(home: home)
        let record = try record(
            in: context, vm: vm, configJSON: configJSON, created: created, label: label,
            kind: .full, policy: policy
        ) { writer in
            let memoryResult = try writer.ingest(buffer: memory)
            let stateResult = try state.withUnsafeBytes { try writer.ingest(buffer: $0) }
            return SnapshotContent(
                parentHint: nil, memory: memoryResult.manifest, disk: nil, state: stateResult.manifest,
                logicalBytes: memoryResult.logicalBytes + stateResult.logicalBytes, pauseMicroseconds: 0)
        }
        return SnapshotSummary(record)
    }
}
