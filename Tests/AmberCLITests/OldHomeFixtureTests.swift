@testable import AmberCore
import AmberTestSupport
import AmberVMM
import Foundation
import Glibc
import Testing

/// A home written by Amber before issue 11 (Tests/Fixtures/home-aa267f7, see its README): today's code
/// reads it as it is. Old stores keep working.
@Suite("A home from before issue 11", .serialized, .enabled(if: FileManager.default.fileExists(atPath: "/dev/kvm")))
struct OldHomeFixtureTests {
    static let fixture = BuiltProducts.packageRoot.appendingPathComponent("Tests/Fixtures/home-aa267f7")
    static let imageSHA256 = "810e69631945a62fc2d03dd83f14d455170e90d5f04bceada9d0a19f7d65d4b3"
    static let snapshotID = "38b3f703"

    @Test func itsImageExportsExactlyAndItsSnapshotStartsAClone() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "young", "--timeout", "5"])
            home.remove()
        }
        try FileManager.default.createDirectory(at: home.root.deletingLastPathComponent(), withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: Self.fixture, to: home.root)

        let verify = try home.amber(["store", "verify"])
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
        let exported = home.scratch.appendingPathComponent("base.raw").path
        let export = try home.amber(["image", "export", "base", exported])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(try TestContent.sha256(ofFile: exported) == Self.imageSHA256)

        let listed = try home.amber(["snapshots", "old", "--json"])
        #expect(listed.stdout.contains("\"id\" : \"\(Self.snapshotID)\"") && listed.stdout.contains("before-issue-11"), "\(listed.stdout)")
        let clone = try home.amber(["clone", Self.snapshotID, "--name", "young", "--detach"], timeout: 120)
        #expect(clone.status == 0, "\(clone.stderr)")
        #expect(try ControlClient(AmberHome(explicit: home.root.path).vm("young")).status().state == .running)
        #expect(HomePermissionTests.openToOthers(home.root.path).isEmpty, "the old home was made owner-only on its first open")
    }
}
