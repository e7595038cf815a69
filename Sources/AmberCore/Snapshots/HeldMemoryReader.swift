import AmberSystem
import Glibc

/// Reads guest memory from the process amber-vmm forked to hold it (`/proc/<pid>/mem` at the guest
/// RAM's address there), page by page as told: read it, know it is zero, or skip it (the caller
/// knows that chunk already). A read through /proc/<pid>/mem costs a page-table walk and two copies
/// per page, so the pages a guest never touched are worth not reading.
struct HeldMemoryReader: Sendable {
    enum Page: UInt8 {
        case read, zero, skip
    }

    static let pageSize = 4096
    private let memory: FileDescriptor
    private let address: UInt64
    /// Per page of guest memory; nil: read every page.
    private let pages: [Page]?

    init(memoryPath: String, address: UInt64, pages: [Page]?) throws {
        memory = try FileDescriptor.open(memoryPath, O_RDONLY)
        self.address = address
        self.pages = pages
    }

    /// Per page of the `length` bytes at `address`, whether the guest left it as it came: never mapped
    /// (nor swapped), or mapped to a page of the backing file (proc(5) pagemap bits 63 present, 62
    /// swapped, 61 file page; an anonymous page, the zero page included, counts as touched). Nil if
    /// the pagemap cannot be read: then every page must be read.
    static func untouchedPages(pagemapPath: String, address: UInt64, length: UInt64) -> [Bool]? {
        guard address % UInt64(pageSize) == 0, length % UInt64(pageSize) == 0,
            let pagemap = try? FileDescriptor.open(pagemapPath, O_RDONLY)
        else { return nil }
        var entries = [UInt64](repeating: 0, count: Int(length) / pageSize)
        let got = try? entries.withUnsafeMutableBytes { try pagemap.read(into: $0, at: address / UInt64(pageSize) * 8) }
        guard got == entries.count * 8 else { return nil }
        let present: UInt64 = 1 << 63, swapped: UInt64 = 1 << 62, filePage: UInt64 = 1 << 61
        return entries.map { $0 & swapped == 0 && ($0 & present == 0 || $0 & filePage != 0) }
    }

    /// Fills `buffer` with the guest memory at `offset` (pages to skip stay as they were); false if
    /// the holder's memory ended early.
    func read(at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws -> Bool {
        guard let pages, offset % UInt64(Self.pageSize) == 0 else {
            return try memory.read(into: buffer, at: address + offset) == buffer.count
        }
        let first = Int(offset) / Self.pageSize
        let count = (buffer.count + Self.pageSize - 1) / Self.pageSize
        guard first + count <= pages.count else { return false }
        var page = 0
        while page < count {
            let kind = pages[first + page]
            var end = page + 1
            while end < count, pages[first + end] == kind { end += 1 }
            let run = UnsafeMutableRawBufferPointer(rebasing: buffer[(page * Self.pageSize)..<min(buffer.count, end * Self.pageSize)])
            switch kind {
            case .read:
                guard try memory.read(into: run, at: address + offset + UInt64(page * Self.pageSize)) == run.count else { return false }
            case .zero:
                run.initializeMemory(as: UInt8.self, repeating: 0)
            case .skip:
                break
            }
            page = end
        }
        return true
    }
}
