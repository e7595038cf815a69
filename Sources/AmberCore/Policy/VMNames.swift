import Foundation

enum VMNames {
    /// Names of the VMs with a directory (and configuration) under the home, running or not. Unlike
    /// `VMManager.list()` it asks no amber-vmm for its status: amberd calls it at every wake-up. Paths are built as
    /// strings: `URL.appendingPathComponent` costs microseconds per call, a measurable part of a plan over 100 VMs.
    static func existing(home: AmberHome) -> [String] {
        let directory = home.vmsDirectory.path
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.sorted().filter { FileManager.default.fileExists(atPath: "\(directory)/\($0)/config.json") }
    }
}
