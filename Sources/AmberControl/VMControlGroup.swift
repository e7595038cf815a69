import AmberSystem
import Glibc

/// Each VM's cgroup v2 group, where the host mounts the unified hierarchy and amber-vmm starts as root:
/// `amber/<VM name>.<hash of its directory>` below /sys/fs/cgroup, capping the memory, CPU time and tasks
/// a compromised or runaway amber-vmm can take from the host. amber-vmm joins it first thing (memory is
/// charged to the group it is allocated in); `amber` removes it once the VM has stopped (a jailed
/// amber-vmm cannot reach /sys).
public enum VMControlGroup {
    static let controllers = ["memory", "cpu", "pids"]
    /// amber-vmm's own memory beside the guest's: the Swift runtime, device and control buffers, and the
    /// page cache its disk I/O fills (reclaimed under the limit, not lost).
    static let overheadBytes: UInt64 = 256 << 20
    /// Threads beside the vCPUs: device workers, control connections (at most 64), timers.
    static let otherTasks = 128

    public static func relativePath(forVMDirectory directory: String) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in directory.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        let name = directory.split(separator: "/").last.map(String.init) ?? "vm"
        let hex = String(hash, radix: 16)
        return "amber/\(name).\(String(repeating: "0", count: 16 - hex.count))\(hex)"
    }

    /// Moves this process into the VM's group (made on first use). Nil where there is none to join: no
    /// cgroup v2 hierarchy, or not started by root.
    public static func join(vmDirectory: String) throws -> ControlGroup? {
        guard geteuid() == 0, ControlGroup.unifiedHierarchyMounted else { return nil }
        let group = try ControlGroup.create(relativePath(forVMDirectory: vmDirectory), controllers: controllers)
        try group.join()
        return group
    }

    /// Sets the VM's limits and says what they are. Memory: twice the guest's RAM plus the overhead,
    /// because while a snapshot's memory holder keeps the guest's pages for reading, every page the guest
    /// rewrites is copied (`MemoryHolder`): the VM's honest peak. CPU: its vCPUs plus one for the
    /// device workers and the control threads. Tasks: its vCPUs plus `otherTasks`.
    public static func limit(_ group: ControlGroup, memoryBytes: UInt64, vcpus: Int) throws -> String {
        let (doubled, overflow) = memoryBytes.multipliedReportingOverflow(by: 2)
        let memory = overflow ? "max" : String(doubled &+ overheadBytes)
        let cpu = "\((vcpus + 1) * 100_000) 100000"
        let tasks = String(vcpus + otherTasks)
        try group.set("memory.max", memory)
        try group.set("cpu.max", cpu)
        try group.set("pids.max", tasks)
        return "cgroup \(group.path): memory.max \(memory), cpu.max \(cpu), pids.max \(tasks)"
    }

    /// Removes the VM's group once no process is left in it.
    public static func remove(vmDirectory: String) {
        guard geteuid() == 0, ControlGroup.unifiedHierarchyMounted else { return }
        ControlGroup(relativePath: relativePath(forVMDirectory: vmDirectory)).removeIfEmpty()
    }
}
