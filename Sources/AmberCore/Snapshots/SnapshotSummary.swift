import AmberCatalog
import Foundation

/// One snapshot as `amber snapshot` reports it and `amber snapshots` lists it. The JSON field names
/// are part of Amber's interface: keep them stable.
public struct SnapshotSummary: Codable, Equatable, Sendable {
    public var id: String
    public var vm: String
    public var parent: String?
    public var created: Date
    public var label: String?
    public var kind: String
    public var logicalBytes: Int64
    public var storedBytes: Int64
    /// How long the guest was held paused to take it.
    public var pauseMilliseconds: Double
    public var protected: Bool

    init(_ record: SnapshotRecord) {
        id = record.id
        vm = record.vm
        parent = record.parent
        created = record.created
        label = record.label
        kind = record.kind
        logicalBytes = record.logicalBytes
        storedBytes = record.storedBytes
        pauseMilliseconds = Double(record.pauseMicroseconds) / 1000
        protected = record.protected
    }
}
