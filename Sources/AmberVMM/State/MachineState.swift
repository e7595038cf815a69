import AmberKVM
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Everything about a paused machine except its memory bytes (those go to the store): every vCPU,
/// the VM's interrupt controllers, PIT and kvmclock, the devices, and the memory layout the bytes
/// belong to. Encoded with a format version (`MachineState+Encoding.swift`); a decoded state is
/// untrusted until `validate()` accepts it, which decoding does.
public struct MachineState: Codable, Equatable, Sendable {
    public var memory: GuestMemoryLayoutState
    public var vcpus: [VCPUState]
    public var vm: VMState
    public var serial: Serial8250.State
    // The i8042 has no state to save: no keyboard is attached and its reset line is an action.
    /// Each virtio-mmio device, in the order the VMM attached them.
    public var virtioDevices: [VirtioDeviceState]

    public static let maximumVCPUs = 256
    public static let maximumVirtioDevices = 64

    public init(memory: GuestMemoryLayoutState, vcpus: [VCPUState], vm: VMState, serial: Serial8250.State,
                virtioDevices: [VirtioDeviceState]) {
        self.memory = memory
        self.vcpus = vcpus
        self.vm = vm
        self.serial = serial
        self.virtioDevices = virtioDevices
    }

    /// Throws naming the first field that is out of range or inconsistent.
    public func validate() throws {
        guard (1...Self.maximumVCPUs).contains(vcpus.count) else {
            throw MachineStateError("machine state has \(vcpus.count) vCPUs, outside 1...\(Self.maximumVCPUs): the state is corrupt")
        }
        for (index, vcpu) in vcpus.enumerated() {
            guard vcpu.id == UInt32(index) else {
                throw MachineStateError("machine state lists vCPU \(vcpu.id) in place \(index): the state is corrupt")
            }
            try vcpu.validate()
        }
        try vm.validate()
        try memory.validate()
        guard serial.input.count <= Serial8250.inputLimit else {
            throw MachineStateError("saved serial input holds \(serial.input.count) bytes, more than \(Serial8250.inputLimit): the state is corrupt")
        }
        guard virtioDevices.count <= Self.maximumVirtioDevices else {
            throw MachineStateError("machine state has \(virtioDevices.count) virtio devices, more than \(Self.maximumVirtioDevices): the state is corrupt")
        }
        try virtioDevices.forEach { try $0.validate() }
    }
}

/// Where guest RAM sits: guest-physical regions over one memory file, back to back from offset 0.
/// The snapshot's memory bytes are that file's contents.
public struct GuestMemoryLayoutState: Codable, Equatable, Sendable {
    public struct Region: Codable, Equatable, Sendable {
        public var guestAddress: UInt64
        public var size: UInt64
        public var fileOffset: UInt64
    }

    public var regions: [Region]

    public static let maximumRegions = 64
    /// 1 TiB: far above any VM this VMM runs, far below what would overflow the arithmetic.
    public static let maximumTotalBytes: UInt64 = 1 << 40

    public init(_ regions: [GuestRAM.Region]) {
        self.regions = regions.map { Region(guestAddress: $0.guestAddress, size: $0.size, fileOffset: $0.fileOffset) }
    }

    public var totalBytes: UInt64 { regions.reduce(0) { $0 &+ $1.size } }

    public var guestRAMRegions: [GuestRAM.Region] {
        regions.map { GuestRAM.Region(guestAddress: $0.guestAddress, size: $0.size, fileOffset: $0.fileOffset) }
    }

    public func validate() throws {
        guard (1...Self.maximumRegions).contains(regions.count) else {
            throw MachineStateError("machine state has \(regions.count) memory regions, outside 1...\(Self.maximumRegions): the state is corrupt")
        }
        var nextOffset: UInt64 = 0
        for region in regions {
            // Sizes and addresses are any 64-bit numbers in a damaged state: sums report overflow.
            let (end, endOverflow) = region.guestAddress.addingReportingOverflow(region.size)
            let (fileEnd, fileEndOverflow) = nextOffset.addingReportingOverflow(region.size)
            guard region.size > 0, region.size % 4096 == 0, region.guestAddress % 4096 == 0, !endOverflow, !fileEndOverflow,
                  region.fileOffset == nextOffset, fileEnd <= Self.maximumTotalBytes, end <= Self.maximumTotalBytes * 2 else {
                throw MachineStateError("machine state has an impossible memory region (guest 0x\(String(region.guestAddress, radix: 16)), \(region.size) bytes, file offset \(region.fileOffset)): the state is corrupt")
            }
            nextOffset = fileEnd
        }
    }
}
