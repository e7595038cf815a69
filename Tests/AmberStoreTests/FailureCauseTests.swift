import AmberStore
import AmberSystem
import AmberTestSupport
import Foundation
import Glibc
import Testing

/// A store error keeps the failed call's errno under its one-line message, so a caller tells a missing file
/// from a full disk or a refused permission without reading the text.
@Suite struct FailureCauseTests {
    @Test func aMissingSourceKeepsENOENT() throws {
        let directory = try TemporaryDirectory()
        let missing = directory.path("absent.img")
        let error = #expect(throws: StoreError.self) { try IngestFile(path: missing) }
        #expect(error?.cause?.errno == ENOENT)
        #expect(error?.underlyingErrno == ENOENT)
        #expect(error?.description == "open \(missing): no such file; check the path")
    }

    @Test func aFoundationFileErrorKeepsItsErrno() throws {
        let directory = try TemporaryDirectory()
        let missing = directory.url.appendingPathComponent("absent")
        let thrown = #expect(throws: (any Error).self) { try Data(contentsOf: missing) }
        let cause = FailureCause(foundation: try #require(thrown))
        #expect(cause.errno == ENOENT, "\(cause)")
        #expect(!cause.reason.isEmpty)

        let file = directory.url.appendingPathComponent("a-file")
        try Data([1]).write(to: file)
        let below = #expect(throws: (any Error).self) {
            try FileManager.default.createDirectory(at: file.appendingPathComponent("sub"), withIntermediateDirectories: true)
        }
        #expect(FailureCause(foundation: try #require(below)).errno == ENOTDIR)
    }

    @Test func aFullDiskIsENOSPCUnderItsOwnMessage() {
        let error = StoreError.noSpace(path: "/var/lib/amber/store")
        #expect(error.underlyingErrno == ENOSPC)
        #expect(error.description.hasPrefix("no space left on the device holding /var/lib/amber/store"))
    }

    @Test func aSystemCallsErrnoSurvivesWrapping() {
        let system = SystemError("open /x", errno: EACCES)
        #expect(system.underlyingErrno == EACCES)
        let wrapped = StoreError.io(operation: "open record /x", cause: FailureCause(system))
        #expect(wrapped.underlyingErrno == EACCES)
        #expect(wrapped.description == "open record /x: open /x: \(String(cString: strerror(EACCES)))")
    }
}
