import Foundation

/// Counters the ingest workers add to, and the progress they report.
final class IngestTotals: @unchecked Sendable {
    struct Counts {
        var zeroChunks = 0
        var newChunks = 0
        var newRawBytes: UInt64 = 0
        var newStoredBytes: UInt64 = 0
        var deltaChunks = 0
    }

    private let lock = NSLock()
    private var sum = Counts()
    private var done: UInt64 = 0

    var counts: Counts {
        lock.lock()
        defer { lock.unlock() }
        return sum
    }

    func add(_ counts: Counts) {
        lock.lock()
        sum.zeroChunks += counts.zeroChunks
        sum.newChunks += counts.newChunks
        sum.newRawBytes += counts.newRawBytes
        sum.newStoredBytes += counts.newStoredBytes
        sum.deltaChunks += counts.deltaChunks
        lock.unlock()
    }

    func progress(bytes: UInt64, of total: UInt64, report: ((UInt64, UInt64) -> Void)?) {
        guard let report else { return }
        lock.lock()
        done += bytes
        let now = done
        lock.unlock()
        report(now, total)
    }
}
