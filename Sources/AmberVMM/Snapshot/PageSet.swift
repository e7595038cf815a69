import AmberControl

/// A set of guest memory pages, one bit each: the pages written since the last recorded snapshot.
struct PageSet {
    private var words: [UInt64]
    let pageCount: Int

    init(pageCount: Int) {
        self.pageCount = pageCount
        words = [UInt64](repeating: 0, count: (pageCount + 63) / 64)
    }

    /// Adds `pages`, clipped to the set's range (they come from the kernel, for the guest RAM mapping).
    mutating func insert(_ pages: Range<Int>) {
        for page in max(0, pages.lowerBound)..<min(pageCount, max(pages.upperBound, 0)) {
            words[page >> 6] |= 1 << UInt64(page & 63)
        }
    }

    mutating func insert(_ runs: [PageRun]) {
        for run in runs { insert(run.first..<(run.first + run.count)) }
    }

    /// The set as ascending runs of consecutive pages.
    var runs: [PageRun] {
        var runs: [PageRun] = []
        var page = 0
        while page < pageCount {
            guard words[page >> 6] != 0 else {
                page = (page | 63) + 1
                continue
            }
            guard words[page >> 6] & (1 << UInt64(page & 63)) != 0 else {
                page += 1
                continue
            }
            let first = page
            while page < pageCount, words[page >> 6] & (1 << UInt64(page & 63)) != 0 { page += 1 }
            runs.append(PageRun(first: first, count: page - first))
        }
        return runs
    }
}
