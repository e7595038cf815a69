/// What a snapshot holds; the catalog and the store's records keep the raw value.
public enum SnapshotKind: String, Sendable, CaseIterable {
    /// Memory, machine state and disk: a VM can be rolled back to it or cloned from it.
    case full
    /// Disk only: what the disk held at one instant, as after a power cut (crash-consistent). Cheaper
    /// (the pause covers only the disk's changed chunks) but cannot be rolled back to or cloned.
    case disk
}
