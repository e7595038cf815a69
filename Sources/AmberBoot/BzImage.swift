import Glibc

/// A validated Linux x86 bzImage (boot protocol, Documentation/arch/x86/boot.rst): the setup header the
/// loader copies into the zero page and the protected-mode kernel loaded at 1 MiB.
public struct BzImage: Sendable {
    /// The boot protocol version that introduced everything this loader relies on (cmdline_size).
    public static let minimumProtocolVersion: UInt16 = 0x0206

    public let name: String
    public let protocolVersion: UInt16
    /// Setup sectors after the boot sector; a header value of 0 means 4.
    public let setupSectors: Int
    public let loadFlags: UInt8
    /// Zero before protocol 2.12, which introduced the field.
    public let extendedLoadFlags: UInt16
    /// Highest address the initrd may occupy (its last byte).
    public let initrdAddressMax: UInt32
    /// Longest command line the kernel accepts, without the terminating NUL.
    public let commandLineSizeLimit: UInt32
    /// Memory the kernel needs from its runtime start address before it reads the memory map
    /// (0 before protocol 2.10).
    public let initSize: UInt32
    public let relocatable: Bool
    /// Alignment of a relocatable kernel's runtime start.
    public let kernelAlignment: UInt32
    /// Where the kernel prefers to run (LOAD_PHYSICAL_ADDR; 0 before protocol 2.10).
    public let preferredAddress: UInt64
    /// Bytes 0x1F1 up to the end of the header (0x202 + the jump offset at 0x201), copied verbatim.
    public let setupHeader: [UInt8]
    public let protectedModeKernel: ArraySlice<UInt8>

    static let setupHeaderOffset = 0x1F1
    static let loadedHighFlag: UInt8 = 0x01
    static let kernel64EntryFlag: UInt16 = 0x01

    /// Reads and validates the kernel file at `path`.
    public init(path: String) throws {
        try self.init(bytes: try readWholeFile(path, what: "kernel"), name: path)
    }

    /// Validates kernel bytes; `name` is how errors refer to them (normally the file's path).
    public init(bytes: [UInt8], name: String) throws {
        self.name = name
        let elfMagic: [UInt8] = [0x7F, 0x45, 0x4C, 0x46]
        if bytes.count >= 4, Array(bytes[0..<4]) == elfMagic {
            throw BootError(
                "kernel \(name) is an ELF file (a vmlinux), not a bzImage: pass the bzImage (arch/x86/boot/bzImage or /boot/vmlinuz-*)")
        }
        guard bytes.count >= 0x240 else {
            throw BootError(
                "kernel \(name) is not a bzImage (only \(bytes.count) bytes, too short for a boot header): pass a Linux bzImage")
        }
        guard bytes[0x202..<0x206].elementsEqual("HdrS".utf8) else {
            throw BootError("kernel \(name) is not a bzImage (no HdrS signature): pass a Linux bzImage")
        }
        let version = bytes.loadLittleEndian(UInt16.self, at: 0x206)
        protocolVersion = version
        guard version >= Self.minimumProtocolVersion else {
            throw BootError(
                "kernel \(name) uses boot protocol \(Self.format(version)); amber needs \(Self.format(Self.minimumProtocolVersion)) or newer: pass a newer kernel"
            )
        }
        loadFlags = bytes[0x211]
        guard loadFlags & Self.loadedHighFlag != 0 else {
            throw BootError("kernel \(name) is a zImage (not loaded high), not a bzImage: pass a bzImage")
        }
        extendedLoadFlags = version >= 0x020C ? bytes.loadLittleEndian(UInt16.self, at: 0x236) : 0
        if version >= 0x020C, extendedLoadFlags & Self.kernel64EntryFlag == 0 {
            throw BootError("kernel \(name) has no 64-bit entry point (XLF_KERNEL_64 clear): pass a 64-bit x86 bzImage")
        }
        let headerEnd = 0x202 + Int(bytes[0x201])
        let declaredSectors = Int(bytes[0x1F1])
        setupSectors = declaredSectors == 0 ? 4 : declaredSectors
        let kernelOffset = (setupSectors + 1) * 512
        guard headerEnd <= kernelOffset, kernelOffset < bytes.count else {
            throw BootError(
                "kernel \(name) is truncated: its header declares \(setupSectors) setup sectors but the file has \(bytes.count) bytes: pass a complete bzImage"
            )
        }
        initrdAddressMax = bytes.loadLittleEndian(UInt32.self, at: 0x22C)
        commandLineSizeLimit = bytes.loadLittleEndian(UInt32.self, at: 0x238)
        initSize = version >= 0x020A ? bytes.loadLittleEndian(UInt32.self, at: 0x260) : 0
        relocatable = bytes[0x234] != 0
        kernelAlignment = bytes.loadLittleEndian(UInt32.self, at: 0x230)
        preferredAddress = version >= 0x020A ? bytes.loadLittleEndian(UInt64.self, at: 0x258) : 0
        setupHeader = Array(bytes[Self.setupHeaderOffset..<headerEnd])
        protectedModeKernel = bytes[kernelOffset...]
    }

    public var supports64BitEntry: Bool {
        extendedLoadFlags & Self.kernel64EntryFlag != 0
    }

    /// One past the highest address the kernel may touch before it reads the memory map, when loaded
    /// at `loadAddress`: its runtime start (boot.rst's algorithm) plus init_size, or the end of the
    /// loaded image if that is further. Nothing else (initrd) may be placed below it.
    public func footprintEnd(loadAddress: UInt64) -> UInt64 {
        var runtimeStart = loadAddress
        if !relocatable, preferredAddress != 0 {
            runtimeStart = preferredAddress
        } else if relocatable {
            runtimeStart = max(runtimeStart, preferredAddress)
            let alignment = UInt64(max(kernelAlignment, 1))
            runtimeStart = (runtimeStart + alignment - 1) / alignment * alignment
        }
        return max(runtimeStart + UInt64(initSize), loadAddress + UInt64(protectedModeKernel.count))
    }

    static func format(_ version: UInt16) -> String {
        "\(version >> 8).\(String(version & 0xFF).count == 1 ? "0" : "")\(version & 0xFF)"
    }
}

/// Reads a whole file, with errors that name it (`what` says what it was meant to be).
func readWholeFile(_ path: String, what: String) throws -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
        throw BootError("\(what) \(path) cannot be opened (\(String(cString: strerror(errno)))): pass a readable file")
    }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
        throw BootError("\(what) \(path) is not a regular file: pass a file")
    }
    var bytes = [UInt8](repeating: 0, count: Int(info.st_size))
    var done = 0
    while done < bytes.count {
        let count = bytes.withUnsafeMutableBytes { buffer in
            read(fd, buffer.baseAddress! + done, buffer.count - done)
        }
        if count < 0, errno == EINTR { continue }
        guard count > 0 else {
            throw BootError(
                "\(what) \(path) could not be read (\(count < 0 ? String(cString: strerror(errno)) : "file shrank while reading")): pass a readable file"
            )
        }
        done += count
    }
    return bytes
}
