import AmberSystem
import Glibc

/// Reads guest memory from the process amber-vmm forked to hold it (`/proc/<pid>/mem` at the guest
/// RAM's address there). With the holder's pagemap, pages it never mapped are known to be zero and
/// come out as zeros without being read: a guest that touched half its memory costs half the copying
/// (a read through /proc/<pid>/mem costs a page-table walk and two copies per page).
struct HeldMemoryReader: @unchecked Sendable {
    private let memory: FileDescriptor
    private let pagemap: FileDescriptor?
    private let address: UInt64
    private static let pageSize = 4096

    init(memoryPath: String, address: UInt64, zeroPagesMap: String?) throws {
        memory = try FileDescriptor.open(memoryPath, O_RDONLY)
        // Without the map every page is read: slower, never wrong.
        pagemap = zeroPagesMap.flatMap { try? FileDescriptor.open($0, O_RDONLY) }
        self.address = address
    }

    /// Fills `buffer` with the guest memory at `offset`; false if the holder's memory ended early.
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Bool {
        guard let mapped = try mappedPages(at: offset, count: buffer.count) else {
            return try memory.read(into: buffer, at: address + offset) == buffer.count
        }
        var page = 0
        while page < mapped.count {
            let isMapped = mapped[page]
            var end = page + 1
            while end < mapped.count, mapped[end] == isMapped { end += 1 }
            let run = UnsafeMutableRawBufferPointer(rebasing: buffer[(page * Self.pageSize)..<min(buffer.count, end * Self.pageSize)])
            if isMapped {
                guard try memory.read(into: run, at: address + offset + UInt64(page * Self.pageSize)) == run.count else { return false }
            } else {
                run.initializeMemory(as: UInt8.self, repeating: 0)
            }
            page = end
        }
        return true
    }

    /// Per page of the range: mapped (present or swapped) or never touched; nil without a pagemap or
    /// for a range not made of whole pages.
    private func mappedPages(at offset: UInt64, count: Int) throws -> [Bool]? {
        guard let pagemap, (address + offset) % UInt64(Self.pageSize) == 0, count % Self.pageSize == 0 else { return nil }
        var entries = [UInt64](repeating: 0, count: count / Self.pageSize)
        let wanted = entries.count * 8
        let got = try entries.withUnsafeMutableBytes { try pagemap.read(into: $0, at: (address + offset) / UInt64(Self.pageSize) * 8) }
        guard got == wanted else { return nil }
        // Bit 63: present; bit 62: swapped (proc(5)).
        return entries.map { $0 & (3 << 62) != 0 }
    }
}
