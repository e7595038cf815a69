import AmberSystem
import Foundation

/// Amber's networks: their definitions under `<home>/networks/`, and the bridge, nftables table and dnsmasq
/// each has on the host. Every change holds `<home>/networks/.lock`, so two commands never allocate one
/// address or subnet twice.
public struct Networks: Sendable {
    /// `<home>/networks`.
    public let directory: String

    public init(directory: String) {
        self.directory = directory
    }

    func files(_ name: String) -> NetworkFiles { NetworkFiles(networksDirectory: directory, name: name) }

    /// The network's definition, or nil when there is no such network.
    func definition(_ name: String) throws(NetworkError) -> NetworkDefinition? {
        let path = files(name).definition
        guard let data = try JSONFile.data(at: path) else { return nil }
        return try NetworkFileCheck.definition(data, name: name, path: path)
    }

    func existingDefinition(_ name: String) throws(NetworkError) -> NetworkDefinition {
        try NetworkName.validate(name)
        guard let definition = try definition(name) else { throw .unknownNetwork(name) }
        return definition
    }

    func attachmentTable(_ name: String) throws(NetworkError) -> AttachmentTable {
        let path = files(name).attachments
        guard let data = try JSONFile.data(at: path) else { return AttachmentTable() }
        return AttachmentTable(attachments: try NetworkFileCheck.attachments(data, of: try existingDefinition(name), path: path))
    }

    /// The names of every network, sorted.
    public func names() -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return entries.filter { !$0.hasPrefix(".") && FileManager.default.fileExists(atPath: files($0).definition) }.sorted()
    }

    /// Runs `work` holding the networks' lock (made with the directory on first use).
    func locked<T>(_ work: () throws(NetworkError) -> T) throws(NetworkError) -> T {
        try JSONFile.makeDirectory(directory)
        let lock: FileLock
        do {
            lock = try FileLock(path: directory + "/.lock", mode: .exclusive)
        } catch {
            throw .io(path: directory + "/.lock", cause: FailureCause(error))
        }
        defer { withExtendedLifetime(lock) {} }
        return try work()
    }
}
