import Foundation
import Testing
@testable import AmberBoot

@Suite struct ACPITablesTests {
    let devices = [GuestMemoryLayout.virtioMMIODevice(index: 0), GuestMemoryLayout.virtioMMIODevice(index: 1)]

    func tables(vcpus: Int = 4) throws -> ACPITables {
        try ACPITables(vcpuCount: vcpus, virtioDevices: devices)
    }

    func sum<C: Collection>(_ bytes: C) -> UInt8 where C.Element == UInt8 {
        bytes.reduce(0) { $0 &+ $1 }
    }

    @Test func everyTableChecksumsToZero() throws {
        let tables = try tables()
        #expect(tables.tables.count == 5)
        for (_, bytes) in tables.tables where !bytes.starts(with: "RSD PTR ".utf8) {
            #expect(sum(bytes) == 0)
            #expect(bytes.loadLittleEndian(UInt32.self, at: 4) == UInt32(bytes.count))
        }
        let rsdp = try #require(tables.table("RSD PTR "))
        #expect(rsdp.address == 0xE0000)
        #expect(rsdp.bytes.count == 36)
        #expect(sum(rsdp.bytes[0..<20]) == 0)
        #expect(sum(rsdp.bytes) == 0)
        #expect(rsdp.bytes[15] == 2)
    }

    @Test func tablesLinkToEachOther() throws {
        let tables = try tables()
        let rsdp = try #require(tables.table("RSD PTR "))
        let xsdt = try #require(tables.table("XSDT"))
        let fadt = try #require(tables.table("FACP"))
        let madt = try #require(tables.table("APIC"))
        let dsdt = try #require(tables.table("DSDT"))
        #expect(rsdp.bytes.loadLittleEndian(UInt64.self, at: 24) == xsdt.address)
        #expect(xsdt.bytes.loadLittleEndian(UInt64.self, at: 36) == fadt.address)
        #expect(xsdt.bytes.loadLittleEndian(UInt64.self, at: 44) == madt.address)
        #expect(fadt.bytes.loadLittleEndian(UInt64.self, at: 140) == dsdt.address)
        for table in tables.tables {
            #expect(table.address >= 0xE0000 && table.address + UInt64(table.bytes.count) <= 0x100000)
        }
    }

    @Test func fadtIsHardwareReducedWithPowerRegistersOnOnePort() throws {
        let fadt = try #require(try tables().table("FACP")).bytes
        #expect(fadt.count == 276)
        #expect(fadt[8] == 6)
        let flags = fadt.loadLittleEndian(UInt32.self, at: 112)
        #expect(flags & (1 << 20) != 0, "HW_REDUCED_ACPI")
        #expect(flags & (1 << 4) != 0 && flags & (1 << 5) != 0, "power and sleep buttons")
        #expect(flags & (1 << 10) != 0, "RESET_REG_SUP")
        for registerOffset in [116, 244, 256] {
            #expect(fadt[registerOffset] == 1, "system I/O space")
            #expect(fadt[registerOffset + 1] == 8, "8 bits wide")
            #expect(fadt.loadLittleEndian(UInt64.self, at: registerOffset + 4) == 0x600)
        }
        #expect(fadt[128] == ACPIPowerRegisters.resetValue)
    }

    @Test func madtListsOneEnabledLocalAPICPerVCPUAndOneIOAPIC() throws {
        let madt = try #require(try tables(vcpus: 3).table("APIC")).bytes
        #expect(madt.loadLittleEndian(UInt32.self, at: 36) == 0xFEE0_0000)
        var offset = 44
        var localAPICs: [(uid: UInt8, apicID: UInt8, flags: UInt32)] = []
        var ioAPICs: [(id: UInt8, address: UInt32, gsiBase: UInt32)] = []
        while offset < madt.count {
            switch madt[offset] {
            case 0: localAPICs.append((madt[offset + 2], madt[offset + 3], madt.loadLittleEndian(UInt32.self, at: offset + 4)))
            case 1:
                ioAPICs.append(
                    (
                        madt[offset + 2], madt.loadLittleEndian(UInt32.self, at: offset + 4),
                        madt.loadLittleEndian(UInt32.self, at: offset + 8)
                    ))
            default: Issue.record("unexpected MADT entry type \(madt[offset])")
            }
            offset += Int(madt[offset + 1])
        }
        #expect(offset == madt.count)
        #expect(localAPICs.map(\.uid) == [0, 1, 2])
        #expect(localAPICs.map(\.apicID) == [0, 1, 2])
        #expect(localAPICs.allSatisfy { $0.flags == 1 })
        #expect(ioAPICs.count == 1)
        #expect(ioAPICs.first?.id == 0 && ioAPICs.first?.address == 0xFEC0_0000 && ioAPICs.first?.gsiBase == 0)
    }

    @Test func refusesDevicesTheIOAPICOrA32BitWindowCannotHold() {
        #expect(throws: BootError("virtio device at 0xd0013000 has GSI 24, beyond the IOAPIC's 24 inputs: use fewer devices")) {
            try ACPITables(vcpuCount: 1, virtioDevices: [GuestMemoryLayout.virtioMMIODevice(index: 19)])
        }
        #expect(throws: BootError.self) {
            try ACPITables(vcpuCount: 1, virtioDevices: [VirtioMMIODeviceSlot(baseAddress: 1 << 32, gsi: 5)])
        }
        #expect(throws: Never.self) {
            try ACPITables(vcpuCount: 1, virtioDevices: (0..<19).map { GuestMemoryLayout.virtioMMIODevice(index: $0) })
        }
    }

    @Test func powerPortWritesDecodeToActions() {
        #expect(ACPIPowerRegisters.sleepControlS5 == 0x34)
        #expect(ACPIPowerRegisters.action(forWrite: 0x34) == .powerOff)
        #expect(ACPIPowerRegisters.action(forWrite: 0x01) == .reboot)
        #expect(ACPIPowerRegisters.action(forWrite: 0x14) == nil, "S5 type without SLP_EN")
        #expect(ACPIPowerRegisters.action(forWrite: 0x24) == nil, "SLP_EN with sleep type 1")
    }

    /// ACPICA's disassembler (Debian's acpica-tools) reads our tables back: the ground truth for the
    /// AML and the table layouts.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/iasl")))
    func iaslDisassemblesTheTables() throws {
        let tables = try tables(vcpus: 2)
        let dsdt = try disassemble(try #require(tables.table("DSDT")).bytes)
        #expect(dsdt.contains("Name(_S5,Package(0x04)"))
        #expect(dsdt.contains("Device(V000)"))
        #expect(dsdt.contains("Device(V001)"))
        #expect(dsdt.contains("Name(_HID,\"LNRO0005\")"))
        #expect(dsdt.contains("Memory32Fixed(ReadWrite,\n0xD0001000,//AddressBase\n0x00001000,//AddressLength"))
        #expect(dsdt.contains("Interrupt(ResourceConsumer,Edge,ActiveHigh,Exclusive,,,)\n{\n0x00000006,"))
        let fadt = try disassemble(try #require(tables.table("FACP")).bytes)
        #expect(fadt.contains("HardwareReduced(V5):1"))
        #expect(fadt.contains("ResetRegisterSupported(V2):1"))
        #expect(fadt.contains("Value to cause reset:01".replacingOccurrences(of: " ", with: "")))
        let madt = try disassemble(try #require(tables.table("APIC")).bytes)
        #expect(madt.components(separatedBy: "ProcessorEnabled:1").count == 3)
        #expect(madt.contains("Address:FEC00000"))
        for text in [dsdt, fadt, madt] {
            #expect(!text.contains("Incorrect"), "checksum or length warning: \(text)")
        }
    }

    /// ACPICA's interpreter (acpiexec, the code Linux runs) loads the tables, evaluates the objects
    /// Linux reads, and takes the hardware-reduced (extended) path to S5 through our sleep registers.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/acpiexec")))
    func acpiexecEvaluatesTheNamespaceAndSleeps() throws {
        let tables = try tables(vcpus: 2)
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("amber-acpiexec-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var files: [String] = []
        for signature in ["DSDT", "FACP", "APIC"] {
            let file = directory.appendingPathComponent("\(signature).dat")
            try Data(try #require(tables.table(signature)).bytes).write(to: file)
            files.append(file.path)
        }
        let acpiexec = Process()
        acpiexec.executableURL = URL(fileURLWithPath: "/usr/bin/acpiexec")
        acpiexec.arguments =
            [
                "-b",
                "evaluate \\_S5_; evaluate \\_SB.V001._HID; evaluate \\_SB.V001._CRS; evaluate \\_SB.COM1._HID; evaluate \\_SB.COM1._CRS; sleep 5",
            ] + files
        let output = Pipe()
        acpiexec.standardOutput = output
        acpiexec.standardError = output
        try acpiexec.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        acpiexec.waitUntilExit()
        #expect(acpiexec.terminationStatus == 0)
        #expect(text.contains("3 Devices"))
        #expect(text.contains("[Package] Contains 4 Elements:\n    [Integer] = 0000000000000005\n    [Integer] = 0000000000000005"))
        #expect(text.contains("[String] Length 08 = \"LNRO0005\""))
        #expect(text.contains("86 09 00 01 00 10 00 D0 00 10 00 00 89 06 00 03"))
        #expect(text.contains("[Integer] = 000000000105D041"), "COM1 is EisaId PNP0501")
        #expect(text.contains("47 01 F8 03 F8 03 01 08 89 06 00 03 01 04 00 00"), "COM1: ports 0x3F8-0x3FF, GSI 4")
        #expect(text.contains("HwExtendedSleep"))
        #expect(text.contains("Entering sleep state [S5]"))
        #expect(!text.contains("Error") && !text.contains("Warning"), "\(text)")
    }

    /// `iasl -d` output for one table, spaces removed so the checks do not depend on alignment.
    func disassemble(_ table: [UInt8]) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("amber-acpi-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("table.dat")
        try Data(table).write(to: input)
        let iasl = Process()
        iasl.executableURL = URL(fileURLWithPath: "/usr/bin/iasl")
        iasl.arguments = ["-d", input.path]
        iasl.currentDirectoryURL = directory
        iasl.standardOutput = FileHandle.nullDevice
        iasl.standardError = FileHandle.nullDevice
        try iasl.run()
        iasl.waitUntilExit()
        #expect(iasl.terminationStatus == 0)
        let source = try String(contentsOf: directory.appendingPathComponent("table.dsl"), encoding: .utf8)
        return source.replacingOccurrences(of: " ", with: "")
    }
}
