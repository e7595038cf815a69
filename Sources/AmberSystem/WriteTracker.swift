import CSystem
import Glibc

/// Which pages of a private mapping of this process have been written: userfaultfd write-protection
/// in asynchronous mode (Linux 6.7+), so the kernel lifts a page's protection on its first write
/// (by a thread here, or by KVM on behalf of the guest) without involving us, and PAGEMAP_SCAN
/// reports and re-protects the written pages in one walk. Soft-dirty bits would do the same but are
/// not built into every kernel (not this project's machines').
public final class WriteTracker: Sendable {
    private let userfaultfd: FileDescriptor
    private let pagemap: FileDescriptor
    private let start: UInt64
    private let end: UInt64
    public static let pageSize = 4096

    /// Protects the range; writes from now on are tracked. Throws where the kernel cannot.
    public init(base: UnsafeMutableRawPointer, size: Int) throws {
        let fd = csystem_track_writes(base, UInt64(size))
        guard fd >= 0 else { throw SystemError("track writes to guest memory (userfaultfd, asynchronous write-protect)") }
        userfaultfd = FileDescriptor(owning: fd)
        pagemap = try FileDescriptor.open("/proc/self/pagemap", O_RDONLY)
        start = UInt64(UInt(bitPattern: base))
        end = start + UInt64(size)
    }

    /// The pages written since the last call (since `init` the first time), as ranges of page
    /// indices from the start of the range; they are write-protected again, so the next call sees
    /// only later writes. Call it while nothing writes the range (the VM paused).
    public func takeWrittenPages() throws -> [Range<Int>] {
        var written: [Range<Int>] = []
        var from = start
        let capacity = 1024
        var pairs = [UInt64](repeating: 0, count: 2 * capacity)
        while from < end {
            var walkEnd: UInt64 = 0
            let count = pairs.withUnsafeMutableBufferPointer {
                csystem_take_written(pagemap.rawValue, from, end, $0.baseAddress, capacity, &walkEnd)
            }
            guard count >= 0 else { throw SystemError("scan guest memory for written pages (PAGEMAP_SCAN)") }
            for index in 0..<count {
                let first = Int((pairs[2 * index] - start) / UInt64(Self.pageSize))
                let last = Int((pairs[2 * index + 1] - start) / UInt64(Self.pageSize))
                written.append(first..<last)
            }
            guard walkEnd > from else { break }
            from = walkEnd
        }
        return written
    }
}
