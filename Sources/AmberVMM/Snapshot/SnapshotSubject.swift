import AmberControl
import AmberVirtio

/// The parts of a running VM a snapshot reads, as the VM's host hands them to `SnapshotSession`.
struct SnapshotSubject: @unchecked Sendable {
    // @unchecked: `log` is a closure amber-vmm writes lifecycle lines with (stderr), called from any thread,
    // and `VirtioDeviceAttachment` (transport and device, each Sendable) is a public struct not marked Sendable.
    let name: String
    let machine: Machine
    /// Each disk as configured and as attached, in attachment order.
    let disks: [(configured: DiskConfiguration, device: VirtioBlockDevice)]
    let virtioDevices: [VirtioDeviceAttachment]
    /// The snapshot the VM was restored from (its memory file holds that snapshot's memory); nil: booted.
    let restoredFrom: String?
    /// How long a snapshot may keep the guest paused.
    let pauseLimit: Double
    let log: (String) -> Void
}
