import AmberSystem
import AmberControl
import AmberVirtio
import Foundation
import Glibc

/// Writes a VM's disk as the guest sees it (its overlay over its base) to a plain raw file. A running
/// VM's disk reads as of its guest's last flush (what it would find after a power cut); pause it or
/// snapshot it for an exact instant.
public struct DiskExport {
    public let home: AmberHome

    public init(home: AmberHome) {
        self.home = home
    }

    /// Returns the number of bytes the disk holds. The output appears complete or not at all; chunks
    /// of zeros become holes.
    @discardableResult
    public func export(vm name: String, disk index: Int = 0, to output: String) throws -> UInt64 {
        let directory = try VMManager(home: home).existing(name)
        guard let configuration = directory.readConfiguration() else { throw SnapshotError.noConfiguration(vm: name) }
        guard configuration.disks.indices.contains(index) else {
            throw DiskExportError("VM \(name) has \(configuration.disks.count) disk(s); there is no disk \(index)")
        }
        let disk = configuration.disks[index]
        let source: BlockBackend
        do {
            if let overlay = disk.overlayPath, access(OverlayDisk.mapPath(forOverlay: overlay), F_OK) == 0 {
                source = try OverlayDisk(basePath: disk.path, overlayPath: overlay, readOnly: true)
            } else {
                source = try RawFileBackend(path: disk.path, readOnly: true)
            }
        } catch let error as VirtioError {
            throw DiskExportError("cannot read the disk of VM \(name): \(error.description)", cause: FailureCause(error))
        }
        let temporary = TemporaryFile.path(replacing: output)
        do {
            let file = try FileDescriptor.open(temporary, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
            try file.truncate(to: source.size)
            let chunk = 1 << 20
            let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunk, alignment: 4096)
            defer { buffer.deallocate() }
            var offset: UInt64 = 0
            while offset < source.size {
                let count = Int(min(UInt64(chunk), source.size - offset))
                let window = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<count])
                try source.read(into: [window], at: offset)
                if !window.allSatisfy({ $0 == 0 }) { try file.write(UnsafeRawBufferPointer(window), at: offset) }
                offset += UInt64(count)
            }
            try file.sync()
            try retryingInterrupts("rename \(temporary)") { rename(temporary, output) }
        } catch let error as DiskExportError {
            unlink(temporary)
            throw error
        } catch {
            unlink(temporary)
            throw DiskExportError("cannot write \(output): \(error)", cause: FailureCause(error))
        }
        return source.size
    }
}

public struct DiskExportError: CausedError, CustomStringConvertible {
    public let description: String
    public let cause: FailureCause?

    init(_ description: String, cause: FailureCause? = nil) {
        self.description = description
        self.cause = cause
    }
}
