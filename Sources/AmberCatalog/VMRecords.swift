import Foundation

/// A VM Amber manages; `config` is its configuration as the VMM layer serialises it (JSON).
public struct VMRecord: Equatable, Sendable {
    public var name: String
    public var config: String
    public var created: Date

    public init(name: String, config: String, created: Date) {
        self.name = name
        self.config = config
        self.created = created
    }
}

extension SQLiteConnection {
    public func insertVM(_ vm: VMRecord) throws {
        if try self.vm(named: vm.name) != nil { throw CatalogError.duplicate(what: "VM '\(vm.name)'") }
        try statement("INSERT INTO vms (name, config, created) VALUES (?, ?, ?)")
            .bind(.text(vm.name), .text(vm.config), .real(vm.created.timeIntervalSince1970)).run()
    }

    public func updateVMConfig(named name: String, config: String) throws {
        try statement("UPDATE vms SET config = ? WHERE name = ?").bind(.text(config), .text(name)).run()
        if changes == 0 { throw CatalogError.notFound(what: "VM '\(name)'") }
    }

    public func vms() throws -> [VMRecord] {
        try statement("SELECT name, config, created FROM vms ORDER BY name").rows(Self.vmRow)
    }

    public func vm(named name: String) throws -> VMRecord? {
        try statement("SELECT name, config, created FROM vms WHERE name = ?").bind(.text(name)).rows(Self.vmRow).first
    }

    /// Removes a VM; refused while it still has snapshots.
    public func deleteVM(named name: String) throws {
        let count = try statement("SELECT COUNT(*) FROM snapshots WHERE vm = ?").bind(.text(name))
        _ = try count.step()
        let snapshots = count.int(0)
        guard snapshots == 0 else {
            throw CatalogError.sqlite(
                operation: "delete VM '\(name)'", code: 19,
                message: "it still has \(snapshots) snapshot(s); delete them first")
        }
        try statement("DELETE FROM vms WHERE name = ?").bind(.text(name)).run()
        if changes == 0 { throw CatalogError.notFound(what: "VM '\(name)'") }
    }

    private static func vmRow(_ row: SQLiteStatement) -> VMRecord {
        VMRecord(name: row.text(0), config: row.text(1), created: Date(timeIntervalSince1970: row.double(2)))
    }
}
