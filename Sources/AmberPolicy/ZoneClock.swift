import Foundation

/// Wall-clock time in one time zone, as whole seconds ("local seconds": what a UTC clock would read if it showed
/// the zone's wall time), converted in both directions.
///
/// Retention buckets millions of snapshots by local hour/day/week; asking `TimeZone` per instant would dominate
/// the run time, so the zone's offset transitions over the span of interest are read once and looked up after.
struct ZoneClock: Sendable {
    let timeZone: TimeZone
    /// Transition instants (epoch seconds), ascending, within the prepared span.
    private let transitions: [Int]
    /// `offsets[i]` is in effect before `transitions[i]`; the last one after the last transition.
    private let offsets: [Int]
    private let span: ClosedRange<Int>

    /// Prepares fast lookups for instants in `span` (epoch seconds); instants outside it still convert correctly,
    /// just more slowly.
    init(timeZone: TimeZone, span: ClosedRange<Int>) {
        self.timeZone = timeZone
        self.span = span
        var transitions: [Int] = []
        var offsets = [timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(span.lowerBound)))]
        var cursor = Date(timeIntervalSince1970: TimeInterval(span.lowerBound))
        while let next = timeZone.nextDaylightSavingTimeTransition(after: cursor),
            next.timeIntervalSince1970 <= TimeInterval(span.upperBound)
        {
            let instant = Int(next.timeIntervalSince1970.rounded(.down))
            let offset = timeZone.secondsFromGMT(for: next)
            if offset != offsets[offsets.count - 1] {
                transitions.append(instant)
                offsets.append(offset)
            }
            cursor = next
        }
        self.transitions = transitions
        self.offsets = offsets
    }

    init(timeZone: TimeZone) {
        self.init(timeZone: timeZone, span: 0...0)
    }

    /// Seconds east of UTC in effect at `instant`.
    func offset(at instant: Int) -> Int {
        guard span.contains(instant) else {
            return timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(instant)))
        }
        if transitions.isEmpty { return offsets[0] }
        var low = 0
        var high = transitions.count
        while low < high {
            let mid = (low + high) / 2
            if transitions[mid] <= instant { low = mid + 1 } else { high = mid }
        }
        return offsets[low]
    }

    func localSeconds(at instant: Int) -> Int {
        instant + offset(at: instant)
    }

    /// `localSeconds(at:)` for instants (seconds since 1970) sorted newest first, walking the transition table
    /// once instead of searching it per instant.
    func localSeconds(newestFirst entries: [OwnedTimeline.Entry]) -> [Int] {
        [Int](unsafeUninitializedCapacity: entries.count) { result, initialized in
            var segment = transitions.count  // offsets[segment] applies from transitions[segment - 1] on
            for (position, entry) in entries.enumerated() {
                // Floor without a libm call per snapshot (`rounded(.down)` is one).
                var instant = Int(entry.time)
                if Double(instant) > entry.time { instant -= 1 }
                if span.contains(instant) {
                    while segment > 0, instant < transitions[segment - 1] { segment -= 1 }
                    result[position] = instant + offsets[segment]
                } else {
                    result[position] = localSeconds(at: instant)
                }
            }
            initialized = entries.count
        }
    }

    /// What a wall-clock reading means in this zone.
    enum Resolution: Equatable {
        /// The usual case: the wall time happens once.
        case once(Int)
        /// The wall time happens twice (clocks were set back); both instants, earlier first.
        case twice(Int, Int)
        /// The wall time never happens (clocks jumped over it); the instant of the jump.
        case skipped(jumpAt: Int)
    }

    func resolve(localSeconds local: Int) -> Resolution {
        let offsetBefore = offset(at: local - 86_400)
        let offsetAfter = offset(at: local + 86_400)
        var instants: [Int] = []
        for candidateOffset in Set([offsetBefore, offsetAfter]) {
            let instant = local - candidateOffset
            if offset(at: instant) == candidateOffset { instants.append(instant) }
        }
        instants.sort()
        switch instants.count {
        case 1: return .once(instants[0])
        case 2: return .twice(instants[0], instants[1])
        default:
            let earliestCandidate = local - max(offsetBefore, offsetAfter)
            let jump = timeZone.nextDaylightSavingTimeTransition(
                after: Date(timeIntervalSince1970: TimeInterval(earliestCandidate)))
            return .skipped(
                jumpAt: jump.map { Int($0.timeIntervalSince1970.rounded(.down)) }
                    ?? local - min(offsetBefore, offsetAfter))
        }
    }
}
