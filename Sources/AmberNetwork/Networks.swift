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
        guard let definition = try JSONFile.read(NetworkDefinition.self, from: path) else { return nil }
        guard definition.name == name, definition.version == NetworkDefinition.formatVersion else {
            throw .damaged(path: path, reason: "it names network \(definition.name), format \(definition.version)")
        }
        do {
            try NetworkName.validateLink(definition.bridge, network: name)
        } catch {
            throw .damaged(path: path, reason: "\(error)")
        }
        return definition
    }

    func existingDefinition(_ name: String) throws(NetworkError) -> NetworkDefinition {
        try NetworkName.validate(name)
        guard let definition = try definition(name) else { throw .unknownNetwork(name) }
        return definition
    }

    func attachmentTable(_ name: String) throws(NetworkError) -> AttachmentTable {
        try JSONFile.read(AttachmentTable.self, from: files(name).attachments) ?? AttachmentTable()
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
