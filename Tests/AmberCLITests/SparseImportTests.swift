@testable import AmberCore
@testable import AmberStore
import AmberSystem
import AmberTestSupport
import Foundation
import Glibc
import Testing

/// Importing a sparse file reads its data, not its holes (SEEK_DATA/SEEK_HOLE), and the image still
/// exports to exactly the same bytes (holes stay holes).
@Suite struct SparseImportTests {
    static let size: UInt64 = 3 << 30
    static let marks: [(offset: UInt64, text: String)] = [(0, "start"), ((1 << 30) + 100, "one GiB in"), (size - 10, "the end!")]

    private func makeSparseFile(_ path: String) throws {
        let file = try FileDescriptor.open(path, O_RDWR | O_CREAT | O_TRUNC, mode: 0o600)
        try file.truncate(to: Self.size)
        for mark in Self.marks {
            try Array(mark.text.utf8).withUnsafeBytes { try file.write($0, at: mark.offset) }
        }
    }

    @Test func onlyChunksWithDataAreMarked() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let path = directory.path("sparse.img")
        try makeSparseFile(path)
        let holding = try #require(try IngestFile(path: path).chunksHoldingData(chunkSize: 65536), "SEEK_DATA unsupported here")
        let expected = Set(
            Self.marks.flatMap { mark in
                [Int(mark.offset / 65536), Int((mark.offset + UInt64(mark.text.utf8.count) - 1) / 65536)]
            })
        // A file system may allocate more than was written (a block, not a byte): allow neighbours only.
        let marked = Set(holding.indices.filter { holding[$0] })
        #expect(expected.isSubset(of: marked), "chunks with data: \(marked.sorted())")
        #expect(marked.count <= expected.count * 2, "chunks with data: \(marked.sorted())")
    }

    @Test(.enabled(if: AmberBinary.exists, "build the amber binary first: swift build --product amber"))
    func aSparseImageRoundTripsExactly() throws {
        let directory = try TemporaryDirectory(prefix: "amber-core-test")
        let home = directory.path("home")
        let source = directory.path("sparse.img"), exported = directory.path("exported.img")
        try makeSparseFile(source)
        let imported = try AmberBinary.run(["image", "import", source, "--name", "sparse", "--home", home])
        #expect(imported.status == 0, "\(imported.stderr)")
        let export = try AmberBinary.run(["image", "export", "sparse", exported, "--home", home])
        #expect(export.status == 0, "\(export.stderr)")
        let file = try FileDescriptor.open(exported, O_RDONLY)
        #expect(try file.size() == Self.size)
        for mark in Self.marks {
            var bytes = [UInt8](repeating: 0, count: mark.text.utf8.count)
            _ = try bytes.withUnsafeMutableBytes { try file.read(into: $0, at: mark.offset) }
            #expect(String(decoding: bytes, as: UTF8.self) == mark.text)
        }
        var info = stat()
        fstat(file.rawValue, &info)
        #expect(UInt64(info.st_blocks) * 512 < 16 << 20, "the export keeps the holes: \(info.st_blocks * 512) bytes allocated")
        #expect(try AmberBinary.run(["store", "verify", "--home", home]).status == 0)
    }
}
