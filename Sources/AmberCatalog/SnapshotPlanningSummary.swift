import CSQLite
import Foundation

/// One VM's snapshots as retention planning needs them, as columns in planning order (creation time, then id).
///
/// Why a summary: `amber policy plan` over 100 VMs x 10,000 snapshots stepped a million index rows and built a
/// String and a Date per row, ~10x the planning itself. Stored packed per VM (one row of fixed-width columns,
/// `snapshot_summaries`), the whole catalog's planning input is a hundred blob reads and a memcpy per column.
/// Ids are a separate column, read only by outputs that list every snapshot.
///
/// Why it cannot disagree with the rows: triggers (migration 0004) mark a VM stale in the same statement that
/// changes any of its snapshot rows, whoever writes them; a stale summary is never read. Amber's own writes
/// (`insertSnapshot`, `deleteSnapshot`, `setSnapshotProtected`, prune) rebuild what they made stale before their
/// transaction commits, so readers normally find every summary fresh; a reader that meets a stale VM builds its
/// summary from the rows in its own transaction instead.
public struct SnapshotPlanningSummary: Sendable, Equatable {
    public var vm: String
    /// Seconds since 1970, ascending (ties ordered by id).
    public var created: [Double]
    public var storedBytes: [Int64]
    public var protected: [Bool]
    /// Index into `policyNames`; -1 for a snapshot taken by hand.
    public var policy: [Int32]
    public var policyNames: [String]
    /// Snapshot ids, when asked for (`snapshotID(in:at:)` looks up single ones).
    public var ids: SnapshotIDList?

    public var count: Int { created.count }

    /// Where the snapshot created at `created` that has `tieOffset` snapshots of the same time with smaller ids
    /// before it sits; nil if no snapshot of the summary has that time.
    public func position(created: Double, tieOffset: Int) -> Int? {
        var low = 0
        var high = count
        while low < high {
            let middle = (low + high) / 2
            if self.created[middle] < created { low = middle + 1 } else { high = middle }
        }
        let position = low + tieOffset
        return position < count && self.created[position] == created ? position : nil
    }

    /// How many snapshots before `position` share its creation time (the SQL below finds it among them by id).
    func tieOffset(at position: Int) -> Int {
        var first = position
        while first > 0, created[first - 1] == created[position] { first -= 1 }
        return position - first
    }

    /// Blob layout version: bump it to have every stored summary rebuilt by a newer amber.
    static let format: Int64 = 1

    /// Creation times a snapshot can have: from 1970 to the end of year 9999. Planning turns them into
    /// whole seconds and calendar dates, which a damaged value (1e300, infinity) would overflow.
    static let possibleTimes: ClosedRange<Double> = 0...253_402_300_799
}

/// Snapshot ids packed as one byte string with offsets: building a million Strings to print a thousand is waste.
public struct SnapshotIDList: Sendable, Equatable {
    /// `offsets[i]..<offsets[i + 1]` are the UTF-8 bytes of id `i`.
    let offsets: [UInt32]
    let bytes: [UInt8]

    init(offsets: [UInt32], bytes: [UInt8]) {
        self.offsets = offsets
        self.bytes = bytes
    }

    public init(_ ids: [String]) {
        var offsets: [UInt32] = [0]
        var bytes: [UInt8] = []
        for id in ids {
            bytes += id.utf8
            offsets.append(UInt32(bytes.count))
        }
        self.init(offsets: offsets, bytes: bytes)
    }

    public var count: Int { offsets.count - 1 }

    public subscript(position: Int) -> String {
        withBytes(at: position) { String(decoding: $0, as: UTF8.self) }
    }

    /// The id's UTF-8 bytes, without building a String.
    public func withBytes<T>(at position: Int, _ body: (UnsafeBufferPointer<UInt8>) throws -> T) rethrows -> T {
        try bytes.withUnsafeBufferPointer {
            try body(UnsafeBufferPointer(rebasing: $0[Int(offsets[position])..<Int(offsets[position + 1])]))
        }
    }
}

extension SQLiteConnection {
    /// Every VM's planning summary (or one VM's), ordered by VM name as SQLite orders text. Stored summaries are read
    /// as they are; stale ones are built from the rows in this transaction (nothing is written).
    public func planningSummaries(vm: String? = nil, includingIDs: Bool = false) throws -> [SnapshotPlanningSummary] {
        var summaries: [SnapshotPlanningSummary] = []
        try forEachPlanningSummaryBatch(vm: vm, batchSize: .max, includingIDs: includingIDs) { summaries += $0 }
        // Summaries built from rows come last: put them in their place.
        summaries.sort { $0.vm.utf8.lexicographicallyPrecedes($1.vm.utf8) }
        return summaries
    }

    /// The summaries of `planningSummaries(vm:includingIDs:)`, handed over `batchSize` VMs at a time, for readers
    /// that keep only what they derive from each batch: the columns of a million snapshots then never sit in memory
    /// at once (fresh memory costs a page fault per 4 KiB, a large part of a plan's time here). Stored summaries
    /// come in VM name order, then those built from the rows (stale or unreadable ones).
    public func forEachPlanningSummaryBatch(
        vm: String? = nil, batchSize: Int, includingIDs: Bool,
        _ body: ([SnapshotPlanningSummary]) throws -> Void
    ) throws {
        let stale = try staleSummaryVMs(vm: vm)
        var batch: [SnapshotPlanningSummary] = []
        func add(_ summary: SnapshotPlanningSummary) throws {
            batch.append(summary)
            if batch.count >= batchSize {
                try body(batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        let unreadable = try eachStoredSummary(vm: vm, includingIDs: includingIDs, skipping: Set(stale), add)
        for name in stale + unreadable {
            if let summary = try planningSummaryFromRows(vm: name, includingIDs: includingIDs) { try add(summary) }
        }
        if !batch.isEmpty { try body(batch) }
    }

    /// Hands over each readable stored summary of VMs not in `skipping`; returns the VMs whose stored summary cannot
    /// be read.
    private func eachStoredSummary(
        vm: String?, includingIDs: Bool, skipping: Set<String>,
        _ body: (SnapshotPlanningSummary) throws -> Void
    ) throws -> [String] {
        let sql = "SELECT rowid, vm, format, count, policies FROM snapshot_summaries"
        let statement = vm == nil ? try self.statement(sql + " ORDER BY vm") : try self.statement(sql + " WHERE vm = ?").bind(.text(vm!))
        var unreadable: [String] = []
        while try statement.step() {
            let name = statement.text(1)
            guard !skipping.contains(name) else { continue }
            if let summary = SummaryBlobs.read(statement, vm: name, includingIDs: includingIDs) {
                try body(summary)
            } else {
                unreadable.append(name)
            }
        }
        return unreadable
    }

    /// VMs whose summary is stale (changed rows not yet summarised).
    public func staleSummaryVMs(vm: String? = nil) throws -> [String] {
        let statement =
            vm == nil
            ? try self.statement("SELECT vm FROM snapshot_summaries_stale")
            : try self.statement("SELECT vm FROM snapshot_summaries_stale WHERE vm = ?").bind(.text(vm!))
        return try statement.rows { $0.text(0) }
    }

    /// Whether `refreshPlanningSummaries()` has work: stale summaries, or summaries in another format.
    public func planningSummariesNeedRefresh() throws -> Bool {
        try !statement(
            """
            SELECT 1 FROM snapshot_summaries_stale UNION ALL SELECT 1 FROM snapshot_summaries WHERE format != ? LIMIT 1
            """
        ).bind(.integer(SnapshotPlanningSummary.format)).rows { $0.int(0) }.isEmpty
    }

    /// Rebuilds every stale summary (and any stored in another format) from the rows and clears the marks. Call
    /// inside a write transaction: the summaries then commit (or roll back) with the row changes that made them stale.
    public func refreshPlanningSummaries() throws {
        try statement("INSERT OR IGNORE INTO snapshot_summaries_stale (vm) SELECT vm FROM snapshot_summaries WHERE format != ?")
            .bind(.integer(SnapshotPlanningSummary.format)).run()
        for vm in try staleSummaryVMs() {
            if let summary = try planningSummaryFromRows(vm: vm, includingIDs: true) {
                let blobs = SummaryBlobs(summary)
                try statement(
                    "INSERT OR REPLACE INTO snapshot_summaries (vm, format, count, records, policies, ids) "
                        + "VALUES (?, ?, ?, ?, ?, ?)"
                )
                .bind(
                    .text(vm), .integer(SnapshotPlanningSummary.format), .int(summary.count), .blob(blobs.records),
                    .blob(blobs.policies), .blob(blobs.ids)
                )
                .run()
            } else {
                try statement("DELETE FROM snapshot_summaries WHERE vm = ?").bind(.text(vm)).run()
            }
            try statement("DELETE FROM snapshot_summaries_stale WHERE vm = ?").bind(.text(vm)).run()
        }
    }

    /// Marks every summary stale and rebuilds them all (the repair path if one is ever found inconsistent).
    public func rebuildPlanningSummaries() throws {
        try execute(
            """
            INSERT OR IGNORE INTO snapshot_summaries_stale (vm)
            SELECT DISTINCT vm FROM snapshots UNION SELECT vm FROM snapshot_summaries
            """)
        try refreshPlanningSummaries()
    }

    /// Rebuilds the summaries `inconsistentPlanningSummaries()` names and returns those VMs (`amber store verify`).
    public func repairPlanningSummaries() throws -> [String] {
        let inconsistent = try inconsistentPlanningSummaries()
        for vm in inconsistent {
            try statement("INSERT OR IGNORE INTO snapshot_summaries_stale (vm) VALUES (?)").bind(.text(vm)).run()
        }
        try refreshPlanningSummaries()
        return inconsistent
    }

    /// VMs whose stored, fresh summary differs from their rows, or whose rows have no summary at all. Empty for a
    /// consistent catalog.
    public func inconsistentPlanningSummaries() throws -> [String] {
        let stale = Set(try staleSummaryVMs())
        var stored: [String: SnapshotPlanningSummary] = [:]
        let unreadable = try eachStoredSummary(vm: nil, includingIDs: true, skipping: stale) { stored[$0.vm] = $0 }
        let vms = Set(try statement("SELECT DISTINCT vm FROM snapshots").rows { $0.text(0) }).union(stored.keys)
        return try vms.union(unreadable).subtracting(stale).sorted().filter { vm in
            try planningSummaryFromRows(vm: vm, includingIDs: true) != stored[vm]
        }
    }

    /// One VM's summary straight from its rows (the covering index `snapshots_for_planning`); nil when it has none.
    public func planningSummaryFromRows(vm: String, includingIDs: Bool) throws -> SnapshotPlanningSummary? {
        let statement = try self.statement(
            "SELECT id, created, stored_bytes, protected, policy FROM snapshots "
                + "WHERE vm = ? ORDER BY created, id"
        ).bind(.text(vm))
        var summary = SnapshotPlanningSummary(
            vm: vm, created: [], storedBytes: [], protected: [], policy: [],
            policyNames: [], ids: nil)
        var ids: [String] = []
        var policyIndex: [String: Int32] = [:]
        while try statement.step() {
            if includingIDs { ids.append(statement.text(0)) }
            let created = statement.double(1)
            guard SnapshotPlanningSummary.possibleTimes.contains(created) else {
                throw CatalogError.damagedSnapshotRow(id: statement.text(0), problem: "creation time \(created) seconds after 1970")
            }
            summary.created.append(created)
            summary.storedBytes.append(statement.int64(2))
            summary.protected.append(statement.int64(3) != 0)
            if statement.isNull(4) {
                summary.policy.append(-1)
            } else {
                let name = statement.text(4)
                let index = policyIndex[name] ?? Int32(summary.policyNames.count)
                if policyIndex[name] == nil {
                    policyIndex[name] = index
                    summary.policyNames.append(name)
                }
                summary.policy.append(index)
            }
        }
        guard summary.count > 0 else { return nil }
        if includingIDs { summary.ids = SnapshotIDList(ids) }
        return summary
    }

    /// The id of the snapshot at `position` of a summary read in this transaction, looked up through the planning
    /// index (a plan names only the few snapshots it lists, so it does not read every id).
    public func snapshotID(in summary: SnapshotPlanningSummary, at position: Int) throws -> String? {
        try statement("SELECT id FROM snapshots WHERE vm = ? AND created = ? ORDER BY id LIMIT 1 OFFSET ?")
            .bind(.text(summary.vm), .real(summary.created[position]), .int(summary.tieOffset(at: position)))
            .rows { $0.text(0) }.first
    }

    /// Where a snapshot sits in the planning order: its VM, creation time and how many snapshots of that VM and
    /// time have smaller ids (see `SnapshotPlanningSummary.position(created:tieOffset:)`); nil if there is none.
    public func snapshotPlace(id: String) throws -> (vm: String, created: Double, tieOffset: Int)? {
        guard
            let (vm, created) = try statement("SELECT vm, created FROM snapshots WHERE id = ?").bind(.text(id))
                .rows({ ($0.text(0), $0.double(1)) }).first
        else { return nil }
        let ties = try statement("SELECT COUNT(*) FROM snapshots WHERE vm = ? AND created = ? AND id < ?")
            .bind(.text(vm), .real(created), .text(id)).rows { $0.int(0) }
        return (vm, created, ties.first ?? 0)
    }

    /// Deletes unprotected snapshots (prune) and refreshes the summaries of their VMs once, at the end.
    public func deleteUnprotectedSnapshots(ids: [String]) throws {
        let delete = try statement("DELETE FROM snapshots WHERE id = ? AND protected = 0")
        for id in ids { try delete.bind(.text(id)).run() }
        try refreshPlanningSummaries()
    }
}

/// The stored form of a summary. Columns are packed back to back in the machine's byte order (Amber runs on
/// little-endian x86-64 and arm64 only), so decoding is one copy per column.
private struct SummaryBlobs {
    /// created (8 bytes each), stored bytes (8), policy index (4), protected (1).
    var records: [UInt8] = []
    /// Per policy name: its UTF-8 length (4 bytes) and bytes.
    var policies: [UInt8] = []
    /// Offsets (count + 1, 4 bytes each), then the ids' UTF-8 bytes.
    var ids: [UInt8] = []

    init(_ summary: SnapshotPlanningSummary) {
        records.reserveCapacity(summary.count * 21)
        summary.created.withUnsafeBytes { records += $0 }
        summary.storedBytes.withUnsafeBytes { records += $0 }
        summary.policy.withUnsafeBytes { records += $0 }
        records += summary.protected.map { $0 ? 1 : 0 }
        for name in summary.policyNames {
            withUnsafeBytes(of: UInt32(name.utf8.count)) { policies += $0 }
            policies += name.utf8
        }
        if let list = summary.ids {
            list.offsets.withUnsafeBytes { ids += $0 }
            ids += list.bytes
        }
    }

    /// Reads the current row (rowid, vm, format, count, policies) and its blobs; nil if it is not a summary this
    /// amber can read (another format, or lengths that do not add up).
    static func read(_ row: SQLiteStatement, vm: String, includingIDs: Bool) -> SnapshotPlanningSummary? {
        guard row.int64(2) == SnapshotPlanningSummary.format else { return nil }
        let count = row.int(3)
        let rowid = row.int64(0)
        let connection = row.connection.handle
        // The count is checked against the bytes that hold its records before anything is sized from it;
        // a damaged count (any 64-bit number) must not overflow on the way.
        let (recordBytes, overflow) = count.multipliedReportingOverflow(by: 21)
        guard count > 0, !overflow, let records = BlobReader(connection, column: "records", rowid: rowid),
            records.length == recordBytes
        else { return nil }
        let created: [Double] = records.read(count, at: 0)
        let storedBytes: [Int64] = records.read(count, at: count * 8)
        let policy: [Int32] = records.read(count, at: count * 16)
        let protectedBytes: [UInt8] = records.read(count, at: count * 20)
        var policyNames: [String] = []
        let names = row.blob(4)
        var offset = 0
        while offset + 4 <= names.count {
            let length = names[offset..<offset + 4].withUnsafeBytes { Int($0.loadUnaligned(as: UInt32.self)) }
            guard offset + 4 + length <= names.count else { return nil }
            policyNames.append(String(decoding: names[offset + 4..<offset + 4 + length], as: UTF8.self))
            offset += 4 + length
        }
        guard !records.failed, offset == names.count, created.allSatisfy(SnapshotPlanningSummary.possibleTimes.contains),
            policy.allSatisfy({ $0 >= -1 && $0 < policyNames.count })
        else { return nil }
        var ids: SnapshotIDList?
        if includingIDs {
            guard let column = BlobReader(connection, column: "ids", rowid: rowid),
                column.length >= (count + 1) * 4
            else { return nil }
            let offsets: [UInt32] = column.read(count + 1, at: 0)
            guard offsets.first == 0, offsets.last.map(Int.init) == column.length - (count + 1) * 4,
                zip(offsets, offsets.dropFirst()).allSatisfy({ $0 <= $1 })
            else { return nil }
            ids = SnapshotIDList(offsets: offsets, bytes: column.read(Int(offsets.last!), at: (count + 1) * 4))
            guard !column.failed else { return nil }
        }
        return SnapshotPlanningSummary(
            vm: vm, created: created, storedBytes: storedBytes,
            protected: protectedBytes.map { $0 != 0 }, policy: policy,
            policyNames: policyNames, ids: ids)
    }
}

/// One summary blob read with SQLite's incremental blob I/O, straight into the arrays that keep the values:
/// `sqlite3_column_blob` would first assemble each blob in a fresh heap buffer (hundreds of KiB per VM, a fresh
/// mapping and page faults every time) only to be copied again.
private final class BlobReader {
    private let handle: OpaquePointer
    let length: Int
    /// A read failed (its values are zeros): the summary must not be used.
    private(set) var failed = false

    init?(_ connection: OpaquePointer, column: String, rowid: Int64) {
        var blob: OpaquePointer?
        guard sqlite3_blob_open(connection, "main", "snapshot_summaries", column, rowid, 0, &blob) == SQLITE_OK,
            let blob
        else {
            sqlite3_blob_close(blob)
            return nil
        }
        handle = blob
        length = Int(sqlite3_blob_bytes(blob))
    }

    deinit {
        sqlite3_blob_close(handle)
    }

    /// `count` values from byte `offset` (the caller checked the length); on a read error, zeros and `failed`.
    func read<T>(_ count: Int, at offset: Int) -> [T] {
        let bytes = count * MemoryLayout<T>.stride
        precondition(offset + bytes <= length)
        return [T](unsafeUninitializedCapacity: count) { buffer, initialized in
            if bytes > 0 {
                let destination = UnsafeMutableRawPointer(buffer.baseAddress!)
                if sqlite3_blob_read(handle, destination, Int32(bytes), Int32(offset)) != SQLITE_OK {
                    destination.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
                    failed = true
                }
            }
            initialized = count
        }
    }
}
