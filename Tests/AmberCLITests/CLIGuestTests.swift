import AmberTestSupport
import Foundation
import Glibc
import Synchronization
import Testing

/// `amber run` and the lifecycle commands against real amber-vmm processes running tiny guests on
/// /dev/kvm. Linux guests are exercised by the harness's Tests/guest/*.sh scenarios.
@Suite("Tiny guests through the amber CLI", .enabled(if: FileManager.default.fileExists(atPath: "/dev/kvm")))
struct CLIGuestTests {
    private func amberVMMProcesses(of home: CLIHome) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard let data = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline")) else { return false }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            return arguments.first?.hasSuffix("amber-vmm") == true && arguments.contains { $0.hasPrefix(home.root.path) }
        }
    }

    /// The pipes and sockets process `pid` has open.
    private func openFiles(of pid: Int32) -> Set<String> {
        let directory = "/proc/\(pid)/fd"
        let descriptors = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return Set(
            descriptors.compactMap { try? FileManager.default.destinationOfSymbolicLink(atPath: "\(directory)/\($0)") }
                .filter { $0.hasPrefix("pipe:") || $0.hasPrefix("socket:") })
    }

    private func listed(_ home: CLIHome) throws -> [[String: Any]] {
        let ps = try home.amber(["ps", "--json"])
        return try JSONSerialization.jsonObject(with: Data(ps.stdout.utf8)) as? [[String: Any]] ?? []
    }

    private func consoleLines(_ home: CLIHome, _ name: String) throws -> Int {
        try home.amber(["logs", name]).stdout.split(separator: "\n").count
    }

    @Test func foregroundRunCarriesTheConsoleAndEndsWithTheGuest() throws {
        let home = try CLIHome()
        defer { home.remove() }
        let kernel = try home.file("hello.bzImage", TinyBzImage.bytes(entryCode: TinyGuest.helloThenReboot))
        let result = try home.amber(["run", "hello", "--kernel", kernel, "--memory", "64M"], timeout: 120)
        #expect(result.status == 0, "\(result.stderr)")
        #expect(result.stdout.contains(TinyGuest.greeting))
        #expect(result.stderr.contains("guest rebooted"))
        #expect(amberVMMProcesses(of: home).isEmpty)
        #expect(try listed(home).first?["state"] as? String == "stopped")
    }

    @Test func detachedVMThroughItsWholeLifecycle() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "ticker", "--timeout", "5"])
            home.remove()
        }
        let kernel = try home.file("ticker.bzImage", TinyBzImage.bytes(entryCode: TinyGuest.ticker))
        let run = try home.amber(["run", "ticker", "--kernel", kernel, "--memory", "64M", "--vcpus", "2", "--detach"], timeout: 20)
        try #require(run.status == 0, "\(run.stderr)")
        let pids = amberVMMProcesses(of: home)
        #expect(run.stdout == "ticker running (pid \(pids.first ?? -1))\n")

        let inherited = openFiles(of: getpid()).intersection(openFiles(of: pids.first ?? -1))
        #expect(inherited.isEmpty, "amber-vmm must not inherit amber's callers' descriptors: \(inherited)")

        let vm = try #require(try listed(home).first)
        #expect(vm["name"] as? String == "ticker")
        #expect(vm["state"] as? String == "running")
        #expect(vm["pid"] as? Int == Int(pids.first ?? -1))
        #expect(vm["vcpus"] as? Int == 2)
        #expect((vm["memoryBytes"] as? NSNumber)?.uint64Value == 64 << 20)
        #expect((vm["uptimeSeconds"] as? Double ?? -1) >= 0)

        let again = try home.amber(["run", "ticker", "--kernel", kernel, "--memory", "64M", "--detach"])
        #expect(again.status == 65)
        #expect(again.errorLine.hasPrefix("VM ticker is already running"))
        #expect(amberVMMProcesses(of: home) == pids)

        #expect(try eventually(within: 30) { try consoleLines(home, "ticker") >= 3 }, "the guest prints")
        let pause = try home.amber(["pause", "ticker"])
        #expect(pause.status == 0)
        #expect(pause.stdout == "ticker paused\n")
        #expect(try listed(home).first?["state"] as? String == "paused")
        let whilePaused = try consoleLines(home, "ticker")
        usleep(1_500_000)
        #expect(try consoleLines(home, "ticker") == whilePaused, "a paused guest makes no progress")

        let resume = try home.amber(["resume", "ticker"])
        #expect(resume.status == 0)
        #expect(try listed(home).first?["state"] as? String == "running")
        #expect(try eventually(within: 30) { try consoleLines(home, "ticker") > whilePaused }, "the guest continues")

        let follower = Process()
        follower.executableURL = BuiltProducts.amber
        follower.arguments = ["logs", "ticker", "-f", "--home", home.root.path]
        let followed = Pipe()
        follower.standardOutput = followed
        try follower.run()
        let watchdog = DispatchWorkItem { follower.terminate() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
        defer { watchdog.cancel() }

        let stop = try home.amber(["stop", "ticker"])
        #expect(stop.status == 0)
        #expect(stop.stdout == "ticker stopped\n")
        #expect(amberVMMProcesses(of: home).isEmpty)
        #expect(try listed(home).first?["state"] as? String == "stopped")
        let text = String(decoding: followed.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        follower.waitUntilExit()
        #expect(follower.terminationStatus == 0, "logs -f ends when the VM exits")
        #expect(text.split(separator: "\n").count > whilePaused)
    }

    @Test func consoleCarriesGuestOutputUntilTheVMStops() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "con", "--timeout", "5"])
            home.remove()
        }
        let kernel = try home.file("ticker.bzImage", TinyBzImage.bytes(entryCode: TinyGuest.ticker))
        try #require(try home.amber(["run", "con", "--kernel", kernel, "--memory", "64M", "--detach"]).status == 0)

        let console = Process()
        console.executableURL = BuiltProducts.amber
        console.arguments = ["console", "con", "--home", home.root.path]
        let input = Pipe()
        let output = Pipe()
        let errors = Pipe()
        console.standardInput = input
        console.standardOutput = output
        console.standardError = errors
        try console.run()
        let watchdog = DispatchWorkItem { console.terminate() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
        defer { watchdog.cancel() }
        // Read until the guest's output arrives through the console stream.
        var received = Data()
        let deadline = Date().addingTimeInterval(30)
        while !String(decoding: received, as: UTF8.self).contains("t\n"), Date() < deadline {
            received.append(output.fileHandleForReading.availableData)
        }
        #expect(String(decoding: received, as: UTF8.self).contains("t\n"))

        #expect(try home.amber(["stop", "con"]).status == 0)
        _ = output.fileHandleForReading.readDataToEndOfFile()
        console.waitUntilExit()
        #expect(console.terminationStatus == 0)
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(message.contains("Connected to con's console"))
        #expect(message.contains("console closed"))
    }

    @Test func twoRunsOfOneNameAtOnceStartOneVM() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "twin", "--timeout", "5"])
            home.remove()
        }
        let kernel = try home.file("ticker.bzImage", TinyBzImage.bytes(entryCode: TinyGuest.ticker))
        let arguments = ["run", "twin", "--kernel", kernel, "--memory", "64M", "--detach"]
        let both = Mutex<[CLIResult?]>([nil, nil])
        DispatchQueue.concurrentPerform(iterations: 2) { index in
            let result = try? home.amber(arguments, timeout: 30)
            both.withLock { $0[index] = result }
        }
        let results = both.withLock { $0 }
        let statuses = results.compactMap { $0?.status }.sorted()
        #expect(statuses == [0, 65])
        #expect(results.contains { $0?.errorLine.hasPrefix("VM twin is already running") == true })
        #expect(amberVMMProcesses(of: home).count == 1)
    }

    @Test func foregroundRunPassesATerminationSignalOnToAmberVMM() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "fg", "--timeout", "5"])
            home.remove()
        }
        let kernel = try home.file("ticker.bzImage", TinyBzImage.bytes(entryCode: TinyGuest.ticker))
        let run = Process()
        run.executableURL = BuiltProducts.amber
        run.arguments = ["run", "fg", "--kernel", kernel, "--memory", "64M", "--net", "none", "--home", home.root.path]
        let output = Pipe()
        let errors = Pipe()
        run.standardOutput = output
        run.standardError = errors
        run.standardInput = FileHandle.nullDevice
        try run.run()
        // If the signal is not passed on, end everything so the failure shows instead of a hang.
        let watchdog = DispatchWorkItem {
            for pid in amberVMMProcesses(of: home) + [run.processIdentifier] { kill(pid, SIGKILL) }
        }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
        defer { watchdog.cancel() }
        #expect(try eventually(within: 30) { try listed(home).first?["state"] as? String == "running" })

        kill(run.processIdentifier, SIGTERM)
        let console = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        let messages = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        run.waitUntilExit()
        #expect(run.terminationReason == .exit, "amber run itself must survive SIGTERM and report amber-vmm's exit")
        #expect(run.terminationStatus == 0, "\(messages)")
        #expect(console.contains("t\n"), "the console is amber run's stdout")
        #expect(amberVMMProcesses(of: home).isEmpty)
    }

    @Test func stopKillsAnAmberVMMThatDoesNotExitInTime() throws {
        let home = try CLIHome()
        defer { home.remove() }
        let kernel = try home.file("ticker.bzImage", TinyBzImage.bytes(entryCode: TinyGuest.ticker))
        try #require(try home.amber(["run", "frozen", "--kernel", kernel, "--memory", "64M", "--detach"]).status == 0)
        let pid = try #require(amberVMMProcesses(of: home).first)
        // A stopped process neither answers its socket nor exits: a hung amber-vmm.
        kill(pid, SIGSTOP)
        let stop = try home.amber(["stop", "frozen", "--timeout", "1"])
        #expect(stop.status == 0)
        #expect(stop.stderr == "amber-vmm for frozen (pid \(pid)) did not exit within 1 s and was killed\n")
        #expect(stop.stdout == "frozen stopped\n")
        #expect(amberVMMProcesses(of: home).isEmpty)
        #expect(try listed(home).first?["state"] as? String == "stopped")
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"), "needs script(1) for a terminal"))
    func consoleOnATerminalTypesIntoTheGuestAndDetachesOnCtrlBracket() throws {
        let home = try CLIHome()
        defer {
            _ = try? home.amber(["stop", "echo", "--timeout", "5"])
            home.remove()
        }
        let kernel = try home.file("echo.bzImage", TinyBzImage.bytes(entryCode: TinyGuest.echo))
        try #require(try home.amber(["run", "echo", "--kernel", kernel, "--memory", "64M", "--detach"]).status == 0)

        // script(1) gives `amber console` a pseudo-terminal and relays our pipe to it.
        let terminal = Process()
        terminal.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        terminal.arguments = ["-q", "-e", "-c", "\(BuiltProducts.amber.path) console echo --home \(home.root.path)", "/dev/null"]
        let keyboard = Pipe()
        let screen = Pipe()
        terminal.standardInput = keyboard
        terminal.standardOutput = screen
        terminal.standardError = screen
        try terminal.run()
        let watchdog = DispatchWorkItem { terminal.terminate() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 60, execute: watchdog)
        defer { watchdog.cancel() }

        var shown = ""
        func waitToSee(_ text: String) -> Bool {
            let deadline = Date().addingTimeInterval(30)
            while !shown.contains(text), Date() < deadline {
                let data = screen.fileHandleForReading.availableData
                if data.isEmpty { break }
                shown += String(decoding: data, as: UTF8.self)
            }
            return shown.contains(text)
        }
        #expect(waitToSee("Ctrl-] detaches"))
        // The terminal is raw, so it does not echo: "typed-by-test" can only come back from the guest.
        keyboard.fileHandleForWriting.write(Data("typed-by-test".utf8))
        #expect(waitToSee("typed-by-test"), "\(shown)")
        keyboard.fileHandleForWriting.write(Data([0x1D]))
        #expect(waitToSee("Detached from echo."), "\(shown)")
        terminal.waitUntilExit()
        #expect(terminal.terminationStatus == 0)
        #expect(try home.amber(["logs", "echo"]).stdout == "typed-by-test", "the guest echoed what was typed")
        #expect(try listed(home).first?["state"] as? String == "running", "detaching leaves the VM running")
    }
}
