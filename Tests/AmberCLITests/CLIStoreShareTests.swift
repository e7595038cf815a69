@testable import AmberCore
import AmberTestSupport
import Foundation
import Glibc
import Testing

/// `amber store share --group G`: members of G read the store's packs and records (new ones too, whatever the
/// owner's umask), nothing else of the home, and write nothing; other users read nothing; `--off` undoes it.
@Suite("Store sharing", .serialized, .enabled(if: getuid() == 0))
struct CLIStoreShareTests {
    /// What user 65534 with group `gid` (and no other group) gets opening each path: "read", "write" or the errno's name.
    static func probe(gid: Int, _ paths: [String], write: Bool = false) throws -> [String] {
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        probe.arguments =
            [
                "--reuid=65534", "--regid=\(gid)", "--clear-groups", "/usr/bin/python3", "-c",
                """
                import errno, sys
                mode = sys.argv[1]
                for path in sys.argv[2:]:
                    try:
                        with open(path, mode) as f:
                            print("write" if mode == "ab" else "read")
                    except OSError as error:
                        print(errno.errorcode.get(error.errno, str(error.errno)))
                """, write ? "ab" : "rb",
            ] + paths
        let output = Pipe()
        probe.standardOutput = output
        try probe.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        probe.waitUntilExit()
        return text.split(separator: "\n").map(String.init)
    }

    /// `amber ARGS` under umask 077: sharing must not depend on a permissive umask.
    static func amberUnderStrictUmask(_ home: CLIHome, _ arguments: [String]) throws -> CLIResult {
        try runProcess(
            URL(fileURLWithPath: "/bin/sh"),
            ["-c", "umask 077; exec \"$0\" \"$@\"", BuiltProducts.amber.path]
                + arguments + ["--home", home.root.path])
    }

    @Test func aGroupReadsThePacksAndRecordsAndNothingElse() throws {
        let home = try CLIHome()
        defer { home.remove() }
        let root = home.root.path
        let first = try home.file("first", TestContent.random(1 << 20, seed: 41))
        #expect(try Self.amberUnderStrictUmask(home, ["image", "import", first, "--name", "first"]).status == 0)
        let shared = try Self.amberUnderStrictUmask(home, ["store", "share", "--group", "nogroup"])
        #expect(shared.status == 0 && shared.stdout.contains("readable by group nogroup"), "\(shared.stderr)")
        // Written after sharing, under umask 077: a new pack and a new record.
        let second = try home.file("second", TestContent.random(1 << 20, seed: 42))
        #expect(try Self.amberUnderStrictUmask(home, ["image", "import", second, "--name", "second"]).status == 0)
        // A full privacy walk on the next open keeps the group's read.
        unlink(root + "/" + AmberHome.privateMarker)
        #expect(try Self.amberUnderStrictUmask(home, ["image", "ls"]).status == 0)

        let packs = try FileManager.default.contentsOfDirectory(atPath: root + "/store/packs").filter { $0.hasSuffix(".pack") }
        #expect(!packs.isEmpty)
        let readable =
            packs.map { root + "/store/packs/" + $0 } + [root + "/store/records/images/first", root + "/store/records/images/second"]
        let closed = [root + "/catalog.db"]
        #expect(try Self.probe(gid: 65534, readable + closed) == Array(repeating: "read", count: readable.count) + ["EACCES"])
        #expect(try Self.probe(gid: 65534, readable, write: true) == Array(repeating: "EACCES", count: readable.count))
        #expect(try Self.probe(gid: 100, readable) == Array(repeating: "EACCES", count: readable.count), "another group reads nothing")

        let off = try home.amber(["store", "share", "--off"])
        #expect(off.status == 0 && off.stdout.contains("owner-only"), "\(off.stderr)")
        #expect(try Self.probe(gid: 65534, readable) == Array(repeating: "EACCES", count: readable.count))
        let status = try home.amber(["store", "share"])
        #expect(status.stdout.contains("owner-only"))
        let unknown = try home.amber(["store", "share", "--group", "no-such-group-amber"])
        #expect(
            unknown.status != 0 && unknown.stderr.hasPrefix("error: ") && unknown.stderr.contains("no group no-such-group-amber"),
            "\(unknown.stderr)")
    }
}
