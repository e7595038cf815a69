import AmberControl
import AmberPolicy
import AmberSystem
import Foundation
import Glibc

/// Turns a `RunRequest` into the `VMConfiguration` amber-vmm gets, checking every input first so
/// that bad input fails before anything is written or started.
enum VMLaunchPlan {
    static func configuration(
        for request: RunRequest, in directory: VMDirectory, home: AmberHome, detached: Bool
    ) throws -> VMConfiguration {
        try VMName.validate(request.name)
        let memory = try memoryBytes(request.memory)
        guard (1...HostLimits.maximumVCPUs).contains(request.vcpus) else {
            throw VMRequestError.invalidVCPUs(request.vcpus, maximum: HostLimits.maximumVCPUs)
        }
        let kernel = absolute(request.kernel)
        try checkReadable(kernel, role: "kernel")
        try checkBzImageMagic(kernel)
        let initrd = request.initrd.map(absolute)
        if let initrd { try checkReadable(initrd, role: "initrd") }
        let disks = try request.disks.enumerated().map { try disk($1, overlay: directory.overlay(forDisk: $0).path) }
        let socket = directory.controlSocket.path
        // Last, once every other input is known to be good: it changes the host. A running VM's NICs are not
        // touched (a second `amber run` of it fails further on).
        if FileLock.isHeld(at: directory.configFile.path) {
            throw VMLifecycleError.alreadyRunning(name: request.name, pid: directory.vmmPID)
        }
        let interfaces = try VMNetworking(home: home).attachForRun(
            vm: request.name, choice: try request.network ?? NetworkChoice.standard(), mac: request.macAddress,
            publish: request.publish, previous: directory.readConfiguration())
        return VMConfiguration(
            name: request.name, kernelPath: kernel, initrdPath: initrd,
            commandLine: request.commandLine ?? RunRequest.defaultCommandLine,
            memoryBytes: memory, vcpus: request.vcpus, disks: disks,
            controlSocketPath: socket, consoleLogPath: detached ? directory.consoleLog.path : nil,
            networkInterfaces: interfaces)
    }

    static func memoryBytes(_ text: String) throws -> UInt64 {
        guard let bytes = ByteSize.parse(text) else {
            throw VMRequestError.notASize(option: "--memory", text: text)
        }
        guard bytes >= HostLimits.minimumMemoryBytes else {
            throw VMRequestError.memoryTooSmall(text: text, minimum: HostLimits.minimumMemoryBytes)
        }
        guard bytes % HostLimits.pageSize == 0 else {
            throw VMRequestError.memoryNotPageAligned(text: text)
        }
        let host = HostLimits.physicalMemoryBytes
        guard bytes <= host else {
            throw VMRequestError.memoryMoreThanHost(text: text, host: host)
        }
        return bytes
    }

    /// amber-vmm may not share our working directory's meaning forever (it is recorded in
    /// config.json), so every path is made absolute.
    private static func absolute(_ path: String) -> String {
        URL(fileURLWithPath: path).standardizedFileURL.path
    }

    /// A writable disk gets a copy-on-write overlay in the VM's directory: the image the user names is
    /// only ever read, and the VM's writes survive until `amber rm`.
    private static func disk(_ spec: String, overlay: String) throws -> DiskConfiguration {
        var path = spec
        var readOnly = false
        if spec.hasSuffix(":ro") || spec.hasSuffix(":rw") {
            readOnly = spec.hasSuffix(":ro")
            path = String(spec.dropLast(3))
        }
        path = absolute(path)
        try checkReadable(path, role: "disk")
        return DiskConfiguration(path: path, readOnly: readOnly, overlayPath: readOnly ? nil : overlay)
    }

    private static func checkReadable(_ path: String, role: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            if errno == ENOENT { throw VMRequestError.missingFile(role: role, path: path) }
            throw VMRequestError.unreadableFile(role: role, path: path, cause: FailureCause(errno: errno))
        }
        let type = info.st_mode & S_IFMT
        guard type == S_IFREG || type == S_IFBLK else {
            throw VMRequestError.notAFile(role: role, path: path)
        }
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            throw VMRequestError.unreadableFile(role: role, path: path, cause: FailureCause(errno: code))
        }
        close(fd)
    }

    /// The boot protocol's setup header carries "HdrS" at 0x202; full parsing happens in amber-vmm.
    private static func checkBzImageMagic(_ path: String) throws {
        guard let handle = FileHandle(forReadingAtPath: path) else {
            throw VMRequestError.unreadableFile(role: "kernel", path: path, cause: FailureCause(reason: "open failed"))
        }
        defer { try? handle.close() }
        try? handle.seek(toOffset: 0x202)
        let magic = (try? handle.read(upToCount: 4)) ?? Data()
        guard magic == Data("HdrS".utf8) else { throw VMRequestError.notBzImage(path: path) }
    }
}
