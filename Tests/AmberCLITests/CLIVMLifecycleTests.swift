import AmberTestSupport
import Foundation
import Glibc
import Testing

/// `amber ps`, `pause`, `resume`, `stop`, `logs`, `console` against real homes, real locks and the
/// real amber-vmm binary (which refuses the truncated test kernel, so no guest runs here).
@Suite("VM lifecycle commands")
struct CLIVMLifecycleTests {
    /// Starts "vm1" detached with a kernel amber-vmm cannot boot, leaving a stopped VM directory.
    private func failedDetachedStart(_ home: CLIHome, name: String = "vm1") throws -> CLIResult {
        let kernel = try home.fakeBzImage()
        return try home.amber(["run", name, "--kernel", kernel, "--memory", "96M", "--vcpus", "3", "--detach"])
    }

    /// Processes whose command line mentions `text`, other than this test process.
    private func processes(mentioning text: String) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap(Int32.init).filter { pid in
            guard pid != getpid(),
                let data = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))
            else { return false }
            return String(decoding: data, as: UTF8.self).contains(text)
        }
    }

    @Test func psOnAnEmptyHome() throws {
        let home = try CLIHome()
        defer { home.remove() }
        let json = try home.amber(["ps", "--json"])
        #expect(json.status == 0)
        let list = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [Any]
        #expect(list?.isEmpty == true)
        let table = try home.amber(["ps"])
        #expect(table.status == 0)
        #expect(table.stdout == "NAME  STATE  PID  VCPUS  MEMORY  UPTIME  NETWORK\n")
        #expect(!FileManager.default.fileExists(atPath: home.root.path), "ps must not create the home")
    }

    @Test("unknown VM", arguments: [["pause"], ["resume"], ["stop"], ["logs"], ["logs", "-f"], ["console"]])
    func unknownVM(command: [String]) throws {
        let home = try CLIHome()
        defer { home.remove() }
        let result = try home.amber(command + ["ghost"])
        #expect(result.status == 64)
        #expect(result.errorLine == "no VM named ghost (see `amber ps`)")
        #expect(result.stdout.isEmpty)
    }

    @Test func invalidNameForControlCommands() throws {
        let home = try CLIHome()
        defer { home.remove() }
        let result = try home.amber(["stop", "../etc"])
        #expect(result.status == 64)
        #expect(result.errorLine.hasPrefix("invalid VM name '../etc'"))
    }

    @Test func detachedStartThatFailsLeavesNothingRunning() throws {
        let home = try CLIHome()
        defer { home.remove() }
        let result = try failedDetachedStart(home)
        #expect(result.status == 69)
        #expect(result.stderr.split(separator: "\n").count == 1)
        #expect(result.errorLine.hasPrefix("amber-vmm for vm1 exited with status"))
        #expect(result.errorLine.contains("before the VM was running"))
        #expect(result.errorLine.contains(home.vmDirectory("vm1").appendingPathComponent("vmm.log").path))
        #expect(processes(mentioning: home.root.path).isEmpty)
        let kept = Set(home.contents())
        #expect(kept.isSuperset(of: ["vms/vm1/config.json", "vms/vm1/vmm.log", "vms/vm1/console.log"]))
    }

    @Test func stoppedVMsAreListedWithTheirConfiguration() throws {
        let home = try CLIHome()
        defer { home.remove() }
        _ = try failedDetachedStart(home, name: "b-vm")
        _ = try failedDetachedStart(home, name: "a-vm")

        let json = try home.amber(["ps", "--json"])
        #expect(json.status == 0)
        let list = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [[String: Any]])
        #expect(list.map { $0["name"] as? String } == ["a-vm", "b-vm"])
        for vm in list {
            #expect(Set(vm.keys) == ["name", "state", "pid", "vcpus", "memoryBytes", "uptimeSeconds", "networkInterfaces"])
            #expect((vm["networkInterfaces"] as? [Any])?.isEmpty == true, "started with --net none (AMBER_NET)")
            #expect(vm["state"] as? String == "stopped")
            #expect(vm["pid"] is NSNull)
            #expect(vm["uptimeSeconds"] is NSNull)
            #expect(vm["vcpus"] as? Int == 3)
            #expect((vm["memoryBytes"] as? NSNumber)?.uint64Value == 96 << 20)
        }

        let table = try home.amber(["ps"])
        #expect(
            table.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true) } == [
                ["NAME", "STATE", "PID", "VCPUS", "MEMORY", "UPTIME", "NETWORK"],
                ["a-vm", "stopped", "-", "3", "96", "MiB", "-", "-"],
                ["b-vm", "stopped", "-", "3", "96", "MiB", "-", "-"],
            ])
    }

    @Test func controlCommandsOnAStoppedVM() throws {
        let home = try CLIHome()
        defer { home.remove() }
        _ = try failedDetachedStart(home)
        for command in ["pause", "resume", "console"] {
            let result = try home.amber([command, "vm1"])
            #expect(result.status == 65)
            #expect(result.errorLine == "VM vm1 is not running (see `amber ps`)", "\(command)")
        }
        let stop = try home.amber(["stop", "vm1"])
        #expect(stop.status == 0)
        #expect(stop.stderr == "vm1 is not running; nothing to stop\n")

        let consoleLog = home.vmDirectory("vm1").appendingPathComponent("console.log")
        try Data("guest says hi\n".utf8).write(to: consoleLog)
        for follow in [[], ["-f"]] {
            let logs = try home.amber(["logs", "vm1"] + follow, timeout: 10)
            #expect(logs.status == 0)
            #expect(logs.stdout == "guest says hi\n")
        }
    }

    @Test func logsFollowUntilTheVMExits() throws {
        let home = try CLIHome()
        defer { home.remove() }
        _ = try failedDetachedStart(home)
        let directory = home.vmDirectory("vm1")
        let lock = HeldLock(directory.appendingPathComponent("config.json").path)
        let consoleLog = try FileHandle(forWritingTo: directory.appendingPathComponent("console.log"))
        consoleLog.write(Data("booting\n".utf8))

        let follower = Process()
        follower.executableURL = BuiltProducts.amber
        follower.arguments = ["logs", "vm1", "-f", "--home", home.root.path]
        let output = Pipe()
        follower.standardOutput = output
        try follower.run()
        let watchdog = DispatchWorkItem { follower.terminate() }
        DispatchQueue.global().asyncAfter(deadline: .now() + 20, execute: watchdog)
        defer { watchdog.cancel() }
        usleep(400_000)
        consoleLog.write(Data("still running\n".utf8))
        usleep(400_000)
        #expect(follower.isRunning, "logs -f must keep following while the VM lives")
        consoleLog.write(Data("powering off\n".utf8))
        lock.release()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        follower.waitUntilExit()
        #expect(follower.terminationStatus == 0)
        #expect(text == "booting\nstill running\npowering off\n")
    }

    @Test func foregroundRunExitsWithAmberVMMsExitCode() throws {
        let home = try CLIHome()
        defer { home.remove() }
        let kernel = try home.fakeBzImage()
        let run = try home.amber(["run", "fg", "--kernel", kernel, "--memory", "64M"])
        let config = home.vmDirectory("fg").appendingPathComponent("config.json")
        let direct = try runProcess(BuiltProducts.amberVMM, ["--config", config.path])
        #expect(run.status == direct.status)
        #expect(processes(mentioning: home.root.path).isEmpty)

        let configuration = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: config)) as? [String: Any])
        #expect(configuration["consoleLogPath"] == nil || configuration["consoleLogPath"] is NSNull)
        #expect(configuration["kernelPath"] as? String == kernel)
        #expect(configuration["commandLine"] as? String == "console=ttyS0 reboot=k panic=1 pci=off")

        let logs = try home.amber(["logs", "fg"])
        #expect(logs.status == 65)
        #expect(logs.errorLine.contains("has no console log"))
    }

    @Test func aNameHeldByALiveVMCannotBeRunAgain() throws {
        let home = try CLIHome()
        defer { home.remove() }
        _ = try failedDetachedStart(home)
        let directory = home.vmDirectory("vm1")
        let config = directory.appendingPathComponent("config.json")
        let before = try Data(contentsOf: config)

        for lockFile in ["config.json", "run.lock"] {
            let lock = HeldLock(directory.appendingPathComponent(lockFile).path)
            let kernel = try home.fakeBzImage()
            let again = try home.amber(["run", "vm1", "--kernel", kernel, "--memory", "128M"])
            #expect(again.status == 65)
            #expect(again.errorLine.hasPrefix("VM vm1 is already running"), "\(lockFile)")
            #expect(try Data(contentsOf: config) == before, "config.json must be left alone")

            let ps = try home.amber(["ps", "--json"])
            let list = try JSONSerialization.jsonObject(with: Data(ps.stdout.utf8)) as? [[String: Any]]
            // "booting" until amber-vmm's socket exists; "unresponsive" if a dead run left one behind.
            #expect(["booting", "unresponsive"].contains(list?.first?["state"] as? String))
            let expectedPID = lockFile == "config.json" ? Int(getpid()) : nil
            #expect(list?.first?["pid"] as? Int == expectedPID, "ps shows the config lock's holder")

            let pause = try home.amber(["pause", "vm1"])
            #expect(pause.status != 0)
            #expect(pause.errorLine.hasPrefix("VM vm1 does not answer on its control socket"))
            withExtendedLifetime(lock) {}
        }
    }

    @Test func stopNeverKillsALockHolderThatIsNotAmberVMM() throws {
        let home = try CLIHome()
        defer { home.remove() }
        _ = try failedDetachedStart(home)
        let config = home.vmDirectory("vm1").appendingPathComponent("config.json")
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/bin/sh")
        // The shell takes the lock and becomes `sleep`: one process, which holds it until killed.
        holder.arguments = ["-c", "exec 9<\"$0\" && flock 9 && exec sleep 30", config.path]
        try holder.run()
        defer {
            holder.terminate()
            holder.waitUntilExit()
        }
        var listed: [[String: Any]] = []
        while listed.first?["state"] as? String ?? "stopped" == "stopped" {
            usleep(10_000)
            let ps = try home.amber(["ps", "--json"])
            listed = try JSONSerialization.jsonObject(with: Data(ps.stdout.utf8)) as? [[String: Any]] ?? []
        }
        #expect(listed.first?["pid"] is Int, "ps names the lock's owner")

        let stop = try home.amber(["stop", "vm1", "--timeout", "1"])
        #expect(stop.status == 69)
        #expect(stop.errorLine.hasPrefix("VM vm1 did not exit within 1.0 s"))
        #expect(holder.isRunning)
    }
}
