@testable import AmberCore
import AmberTestSupport
import Foundation
import Glibc
import Testing

/// The home and everything Amber keeps in it are owner-only whatever the umask, and a looser home is
/// fixed by the next command.
@Suite struct HomePermissionTests {
    /// Every file and directory under `root` (itself included) that group or others may use, with its mode.
    static func openToOthers(_ root: String) -> [String] {
        var found: [String] = []
        func visit(_ path: String) {
            var info = stat()
            guard lstat(path, &info) == 0, info.st_mode & S_IFMT != S_IFLNK else { return }
            if info.st_mode & 0o077 != 0 { found.append("\(path) \(String(info.st_mode & 0o7777, radix: 8))") }
            guard info.st_mode & S_IFMT == S_IFDIR else { return }
            for name in (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? [] { visit(path + "/" + name) }
        }
        visit(root)
        return found
    }

    /// Runs `amber ARGS --home HOME` under umask 022, the usual default that leaves new files world-readable.
    static func amberUnderUmask022(_ home: CLIHome, _ arguments: [String]) throws -> CLIResult {
        try runProcess(
            URL(fileURLWithPath: "/bin/sh"),
            ["-c", "umask 022 && exec \"$@\"", "sh", BuiltProducts.amber.path] + arguments + ["--home", home.root.path])
    }

    @Test func aHomeMadeUnderUmask022IsOwnerOnly() throws {
        let home = try CLIHome()
        defer { home.remove() }
        let image = try home.file("image", TestContent.text(1 << 20, seed: 31) + TestContent.random(1 << 20, seed: 32))
        let exported = home.scratch.appendingPathComponent("exported").path
        #expect(try Self.amberUnderUmask022(home, ["image", "import", image, "--name", "base"]).status == 0)
        // Checked before any later command could fix them: created owner-only, not fixed afterwards.
        #expect(Self.openToOthers(home.root.path) == [])
        #expect(try Self.amberUnderUmask022(home, ["image", "export", "base", exported]).status == 0)
        #expect(try Self.amberUnderUmask022(home, ["store", "verify"]).status == 0)
        #expect(try Self.amberUnderUmask022(home, ["store", "gc"]).status == 0)
        // amber-vmm refuses the fake kernel, leaving the VM's directory, configuration and logs behind.
        let kernel = try home.fakeBzImage()
        _ = try Self.amberUnderUmask022(home, ["run", "vm1", "--kernel", kernel, "--memory", "96M", "--detach"])

        let root = home.root.path
        let packs = try FileManager.default.contentsOfDirectory(atPath: root + "/store/packs").filter { $0.hasSuffix(".pack") }
        #expect(!packs.isEmpty)
        for entry in ["store/lease.lock", "store/STORE", "catalog.db", "vms/vm1/config.json"] {
            #expect(FileManager.default.fileExists(atPath: root + "/" + entry), "\(entry) is missing")
        }
        #expect(Self.openToOthers(root) == [])
        // The exported image is the user's file, outside the home: the umask decides its mode.
        #expect(try FileManager.default.attributesOfItem(atPath: exported)[.posixPermissions] as? Int == 0o644)
    }

    @Test func aLooseHomeIsFixedByTheNextCommand() throws {
        let home = try CLIHome()
        defer { home.remove() }
        let image = try home.file("image", TestContent.random(1 << 20, seed: 33))
        #expect(try home.amber(["image", "import", image, "--name", "base"]).status == 0)
        let root = home.root.path
        let pack = try #require(try FileManager.default.contentsOfDirectory(atPath: root + "/store/packs").first { $0.hasSuffix(".pack") })
        for (path, mode) in [
            (root, 0o755), (root + "/store", 0o755), (root + "/store/packs/" + pack, 0o644), (root + "/catalog.db", 0o644),
        ] {
            #expect(chmod(path, mode_t(mode)) == 0)
        }
        #expect(Self.openToOthers(root).count == 4)

        let listed = try home.amber(["image", "ls"])
        #expect(listed.status == 0)
        // The four loosened above, and the catalog's -wal and -shm, which SQLite created with the database's mode.
        #expect(listed.stderr == "amber: made \(root) owner-only: 6 file(s) or directories were open to other users\n")
        #expect(Self.openToOthers(root) == [])
        #expect(try home.amber(["image", "ls"]).stderr.isEmpty, "an owner-only home is not reported again")

        // A home an older Amber made (no marker of a full walk) is walked to the last pack on its first open.
        #expect(unlink(root + "/" + AmberHome.privateMarker) == 0)
        #expect(chmod(root + "/store/packs/" + pack, 0o644) == 0)
        #expect(
            try home.amber(["image", "ls"]).stderr == "amber: made \(root) owner-only: 1 file(s) or directories were open to other users\n")
        #expect(Self.openToOthers(root) == [])
        #expect(FileManager.default.fileExists(atPath: root + "/" + AmberHome.privateMarker))
    }

    /// Another local user (nobody, through setpriv) can neither read a pack or the catalog nor connect to a
    /// running VM's control socket of a home made under umask 022.
    @Test(.enabled(if: getuid() == 0 && FileManager.default.fileExists(atPath: "/dev/kvm")))
    func anotherUserCannotOpenPacksTheCatalogOrAControlSocket() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "priv", "--timeout", "5"])
            home.remove()
        }
        let image = try home.file("image", TestContent.random(1 << 20, seed: 34))
        #expect(try Self.amberUnderUmask022(home, ["image", "import", image, "--name", "base"]).status == 0)
        try home.startCounter("priv")
        let root = home.root.path
        let pack = try #require(try FileManager.default.contentsOfDirectory(atPath: root + "/store/packs").first { $0.hasSuffix(".pack") })
        let targets = [root + "/store/packs/" + pack, root + "/catalog.db", root + "/vms/priv/control.sock"]
        for target in targets { #expect(FileManager.default.fileExists(atPath: target), "\(target) is missing") }

        // For each path: "open" or "connect" if it worked, else the errno's name.
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        probe.arguments =
            [
                "--reuid=65534", "--regid=65534", "--clear-groups", "/usr/bin/python3", "-c",
                """
                import errno, socket, sys
                for path in sys.argv[1:]:
                    try:
                        if path.endswith(".sock"):
                            socket.socket(socket.AF_UNIX).connect(path); print("connect")
                        else:
                            open(path, "rb").read(1); print("open")
                    except OSError as error:
                        print(errno.errorcode.get(error.errno, str(error.errno)))
                """,
            ] + targets
        let output = Pipe()
        probe.standardOutput = output
        try probe.run()
        let results = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        probe.waitUntilExit()
        #expect(probe.terminationStatus == 0)
        #expect(results.split(separator: "\n").map(String.init) == ["EACCES", "EACCES", "EACCES"], "\(results)")
    }
}
