import AmberModel
import Foundation

/// What a record describes; each kind has its own directory under `records/`.
public enum RecordType: String, CaseIterable, Sendable {
    case vm, image, snapshot

    public var directoryName: String { rawValue + "s" }
}

/// The description a record holds: everything the catalog's row holds, in the store's own terms (digests in
/// hex, times as seconds since 1970 so they survive exactly).
public protocol RecordDescription: Codable, Equatable, Sendable {
    static var recordType: RecordType { get }
    /// The record's file name: the VM's or image's name, the snapshot's id.
    var key: String { get }
    /// Why these values cannot be a real object (bytes read back are untrusted), or nil.
    func problem() -> String?
}

/// A VM as the catalog knows it: its configuration (JSON, as the VMM layer serialises it).
public struct VMDescription: RecordDescription {
    public static let recordType = RecordType.vm
    public var name: String
    public var config: String
    public var created: Double

    public init(name: String, config: String, created: Double) {
        self.name = name
        self.config = config
        self.created = created
    }

    public var key: String { name }

    public func problem() -> String? {
        RecordBounds.name(name, "VM name") ?? RecordBounds.time(created, "created")
            ?? (config.utf8.count <= RecordBounds.maxConfigBytes ? nil : "config of \(config.utf8.count) bytes")
    }
}

/// An image: the root of its manifest and what it cost.
public struct ImageDescription: RecordDescription {
    public static let recordType = RecordType.image
    public var name: String
    public var manifest: String
    public var logicalBytes: Int64
    public var storedBytes: Int64
    public var chunkSize: Int
    public var created: Double

    public init(name: String, manifest: String, logicalBytes: Int64, storedBytes: Int64, chunkSize: Int, created: Double) {
        self.name = name
        self.manifest = manifest
        self.logicalBytes = logicalBytes
        self.storedBytes = storedBytes
        self.chunkSize = chunkSize
        self.created = created
    }

    public var key: String { name }

    public func problem() -> String? {
        let validChunkSize = (4096...PackFormat.maxRecordPayload).contains(chunkSize) && chunkSize & (chunkSize - 1) == 0
        let checks: [() -> String?] = [
            { RecordBounds.name(name, "image name") },
            { RecordBounds.digest(manifest, "manifest") },
            { RecordBounds.size(logicalBytes, "logicalBytes") },
            { RecordBounds.size(storedBytes, "storedBytes") },
            { RecordBounds.time(created, "created") },
            { validChunkSize ? nil : "chunkSize \(chunkSize) is not a power of two between 4 KiB and 16 MiB" },
        ]
        return checks.lazy.compactMap { $0() }.first
    }
}

/// A snapshot: its place in its VM's tree, its manifests, sizes, protection and owning policy.
public struct SnapshotDescription: RecordDescription {
    public static let recordType = RecordType.snapshot
    public var id: String
    public var vm: String
    public var parent: String?
    public var created: Double
    public var label: String?
    public var kind: String
    public var memoryManifest: String?
    public var diskManifest: String?
    public var stateManifest: String?
    public var logicalBytes: Int64
    public var storedBytes: Int64
    public var pauseMicroseconds: Int64
    public var protected: Bool
    public var policy: String?

    public init(
        id: String, vm: String, parent: String?, created: Double, label: String?, kind: String, memoryManifest: String?,
        diskManifest: String?, stateManifest: String?, logicalBytes: Int64, storedBytes: Int64, pauseMicroseconds: Int64,
        protected: Bool, policy: String?
    ) {
        self.id = id
        self.vm = vm
        self.parent = parent
        self.created = created
        self.label = label
        self.kind = kind
        self.memoryManifest = memoryManifest
        self.diskManifest = diskManifest
        self.stateManifest = stateManifest
        self.logicalBytes = logicalBytes
        self.storedBytes = storedBytes
        self.pauseMicroseconds = pauseMicroseconds
        self.protected = protected
        self.policy = policy
    }

    public var key: String { id }

    public var manifests: [String] { [memoryManifest, diskManifest, stateManifest].compactMap { $0 } }

    public func problem() -> String? {
        let checks: [() -> String?] = [
            { RecordBounds.name(id, "id") },
            { RecordBounds.name(vm, "VM name") },
            { parent.flatMap { RecordBounds.name($0, "parent") } },
            { RecordBounds.time(created, "created") },
            { RecordBounds.name(kind, "kind") },
            { label.flatMap { RecordBounds.text($0, "label") } },
            { policy.flatMap { RecordBounds.text($0, "policy") } },
            { manifests.lazy.compactMap { RecordBounds.digest($0, "manifest") }.first },
            { RecordBounds.size(logicalBytes, "logicalBytes") },
            { RecordBounds.size(storedBytes, "storedBytes") },
            { RecordBounds.size(pauseMicroseconds, "pauseMicroseconds") },
        ]
        return checks.lazy.compactMap { $0() }.first
    }
}

/// The limits a record's values must keep. Names and ids become file names, so they are held to the
/// characters Amber gives names (never "/", never a leading dot).
enum RecordBounds {
    static let maxNameBytes = 128
    static let maxTextBytes = 4096
    static let maxConfigBytes = 256 << 10
    /// 2^60 bytes (an exbibyte): larger than any disk or memory, small enough that sums of a million never overflow.
    static let maxSize = Int64(1) << 60
    /// Seconds since 1970; 1e11 is the year 5138.
    static let maxTime = 1e11

    static func name(_ value: String, _ field: String) -> String? {
        let bytes = Array(value.utf8)
        let allowed = bytes.allSatisfy { byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_")
                || byte == UInt8(ascii: "-")
        }
        guard (1...maxNameBytes).contains(bytes.count), allowed, bytes[0] != UInt8(ascii: ".") else {
            return "\(field) \"\(String(value.prefix(40)))\" is not a name Amber gives"
        }
        return nil
    }

    static func text(_ value: String, _ field: String) -> String? {
        value.utf8.count <= maxTextBytes ? nil : "\(field) of \(value.utf8.count) bytes (at most \(maxTextBytes))"
    }

    static func digest(_ value: String, _ field: String) -> String? {
        ChunkDigest(hex: value) == nil ? "\(field) \"\(String(value.prefix(70)))\" is not a SHA-256 digest" : nil
    }

    static func size(_ value: Int64, _ field: String) -> String? {
        (0...maxSize).contains(value) ? nil : "\(field) \(value) is out of range"
    }

    static func time(_ value: Double, _ field: String) -> String? {
        value.isFinite && (0...maxTime).contains(value) ? nil : "\(field) \(value) is not a time"
    }

    /// Whether `name` may be a record's file name (a key); `problem()` holds every key to this too.
    static func isKey(_ name: String) -> Bool { self.name(name, "") == nil }
}
