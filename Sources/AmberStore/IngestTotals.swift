import Synchronization

/// Counters the ingest workers add to, and the progress they report.
final class IngestTotals: Sendable {
    struct Counts {
        var zeroChunks = 0
        var newChunks = 0
        var newRawBytes: UInt64 = 0
        var newStoredBytes: UInt64 = 0
        var deltaChunks = 0
    }

    private struct State {
        var sum = Counts()
        var done: UInt64 = 0
    }

    private let state = Mutex(State())

    var counts: Counts { state.withLock { $0.sum } }

    func add(_ counts: Counts) {
        state.withLock { state in
            state.sum.zeroChunks += counts.zeroChunks
            state.sum.newChunks += counts.newChunks
            state.sum.newRawBytes += counts.newRawBytes
            state.sum.newStoredBytes += counts.newStoredBytes
            state.sum.deltaChunks += counts.deltaChunks
        }
    }

    func progress(bytes: UInt64, of total: UInt64, report: ((UInt64, UInt64) -> Void)?) {
        guard let report else { return }
        let now = state.withLock { state in
            state.done += bytes
            return state.done
        }
        report(now, total)
    }
}
