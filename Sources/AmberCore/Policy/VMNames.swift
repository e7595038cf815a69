import Foundation

enum VMNames {
    /// Names of the VMs with a directory (and configuration) under the home, running or not. Unlike
    /// `VMManager.list()` it asks no amber-vmm for its status: amberd calls it at every wake-up.
    static func existing(home: AmberHome) -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: home.vmsDirectory.path)) ?? []
        return names.sorted().filter { home.vm($0).exists }
    }
}
