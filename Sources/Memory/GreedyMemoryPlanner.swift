/// TFLM's `GreedyMemoryPlanner` (tensorflow/lite/micro/memory_planner/greedy_memory_planner.cc):
/// buffers sorted by size, largest first, each placed at the lowest offset where it overlaps no
/// buffer already placed that is alive at the same time. Ties keep TFLM's order exactly: the
/// online buffers enter the sort array last-first and its bubble sort is stable.
///
/// TFLM walks its whole offset-ordered list of placed buffers for every buffer (quadratic: a
/// 100k-op chain took over half a minute). Only the placed buffers alive at the same time can
/// move the candidate offset, so this planner asks a `LifetimeIndex` for those, orders them as
/// TFLM's list would (by offset, equal offsets in insertion order) and runs TFLM's scan over
/// them alone: the same offsets, in time proportional to the overlaps.
package struct GreedyMemoryPlanner {
    package struct Buffer: Equatable {
        package var size: Int
        package var firstUsed: Int
        package var lastUsed: Int
        /// An offset from the `OfflineMemoryAllocation` metadata, nil: planned online.
        package var offlineOffset: Int?
        package init(size: Int, firstUsed: Int, lastUsed: Int, offlineOffset: Int? = nil) {
            self.size = size
            self.firstUsed = firstUsed
            self.lastUsed = lastUsed
            self.offlineOffset = offlineOffset
        }
    }

    /// The offset of each buffer, in the order given.
    package private(set) var offsets: [Int]
    /// The planned size: the largest offset + size.
    package private(set) var maximumSize: Int

    /// How the overlapping buffers are found: `.indexed` (the default) or `.tflmScan`, TFLM's
    /// own walk of every placed buffer (kept as the reference the tests compare against, and for
    /// lifetimes that end before they start, which no TFLM plan has but its test accepts).
    package enum Method { case indexed, tflmScan }

    package init(_ buffers: [Buffer], method: Method = .indexed) {
        offsets = Array(repeating: -1, count: buffers.count)
        maximumSize = 0
        guard !buffers.isEmpty else { return }
        let order = Self.placementOrder(buffers)
        if method == .tflmScan || buffers.contains(where: { $0.firstUsed > $0.lastUsed }) {
            placeByScan(buffers, order)
            return
        }
        var index = LifetimeIndex(buffers)
        // The position each buffer took in the placement order: TFLM's list keeps equal offsets
        // in that order (a new entry goes after those with an offset not larger than its own).
        var placedAt = Array(repeating: 0, count: buffers.count)
        var overlapping: [Int] = []
        for (position, id) in order.enumerated() {
            let wanted = buffers[id]
            var candidate = 0
            if let fixed = wanted.offlineOffset {
                candidate = fixed
            } else {
                overlapping.removeAll(keepingCapacity: true)
                index.forEachPlaced(overlapping: id) { overlapping.append($0) }
                overlapping.sort { (offsets[$0], placedAt[$0]) < (offsets[$1], placedAt[$1]) }
                for other in overlapping {
                    if offsets[other] - candidate >= wanted.size { break }
                    candidate = max(candidate, offsets[other] + buffers[other].size)
                }
            }
            offsets[id] = candidate
            placedAt[id] = position
            index.insert(id)
            maximumSize = max(maximumSize, candidate + wanted.size)
        }
    }

    /// TFLM's walk: every placed buffer, in offset order, for every buffer placed.
    private mutating func placeByScan(_ buffers: [Buffer], _ order: [Int]) {
        // Placed buffers ordered by offset (TFLM's linked list; a sorted array here).
        var placed: [(offset: Int, id: Int)] = []
        placed.reserveCapacity(buffers.count)
        for id in order {
            let wanted = buffers[id]
            var candidate = 0
            if let fixed = wanted.offlineOffset {
                candidate = fixed
            } else {
                for entry in placed {
                    let other = buffers[entry.id]
                    guard other.firstUsed <= wanted.lastUsed, wanted.firstUsed <= other.lastUsed else { continue }
                    if entry.offset - candidate >= wanted.size { break }
                    candidate = max(candidate, entry.offset + other.size)
                }
            }
            offsets[id] = candidate
            // Insert before the first entry with a larger offset, as TFLM's list insertion does.
            var lo = 0, hi = placed.count
            while lo < hi {
                let mid = (lo + hi) / 2
                if placed[mid].offset > candidate { hi = mid } else { lo = mid + 1 }
            }
            placed.insert((candidate, id), at: lo)
        }
        maximumSize = placed.map { $0.offset + buffers[$0.id].size }.max() ?? 0
    }

    /// Offline buffers first in their order, then online ones from the last to the first,
    /// stably sorted by decreasing size (CalculateOffsetsIfNeeded + ReverseSortInPlace).
    static func placementOrder(_ buffers: [Buffer]) -> [Int] {
        let offline = buffers.indices.filter { buffers[$0].offlineOffset != nil }
        let online = buffers.indices.reversed().filter { buffers[$0].offlineOffset == nil }
        let sortedOnline = online.enumerated().sorted { a, b in
            let sa = buffers[a.element].size, sb = buffers[b.element].size
            return sa != sb ? sa > sb : a.offset < b.offset
        }.map(\.element)
        return offline + sortedOnline
    }
}

/// The buffers placed so far, indexed by lifetime, answering "which placed buffers are alive at
/// some time in [first, last]?" in time proportional to the answer (plus the query's length in
/// distinct times and a logarithm). Such a buffer either starts inside the range (one bucket per
/// start time) or starts before it and is still alive at its first time (a stabbing query on a
/// segment tree that stores each lifetime at the O(log n) nodes covering it). Times are
/// compressed to the ranks of the distinct endpoints, which keeps every overlap.
struct LifetimeIndex {
    private let first: [Int]
    private let last: [Int]
    /// Distinct endpoint ranks.
    private let times: Int
    private var startingAt: [[Int]]
    /// Segment tree over ranks (heap numbering from 1): buffers whose lifetime covers a node's
    /// whole range and not its parent's.
    private var covering: [[Int]]

    init(_ buffers: [GreedyMemoryPlanner.Buffer]) {
        let endpoints = Array(Set(buffers.flatMap { [$0.firstUsed, $0.lastUsed] })).sorted()
        var rank: [Int: Int] = [:]
        rank.reserveCapacity(endpoints.count)
        for (r, t) in endpoints.enumerated() { rank[t] = r }
        first = buffers.map { rank[$0.firstUsed]! }
        last = buffers.map { rank[$0.lastUsed]! }
        times = max(endpoints.count, 1)
        startingAt = Array(repeating: [], count: times)
        var leaves = 1
        while leaves < times { leaves *= 2 }
        covering = Array(repeating: [], count: 2 * leaves)
        self.leaves = leaves
    }

    private let leaves: Int

    /// Lifetimes must not end before they start (the planner scans such plans instead).
    mutating func insert(_ id: Int) {
        startingAt[first[id]].append(id)
        // Iterative canonical decomposition of [first, last] over the leaves.
        var lo = first[id] + leaves, hi = last[id] + leaves + 1
        while lo < hi {
            if lo & 1 == 1 { covering[lo].append(id); lo += 1 }
            if hi & 1 == 1 { hi -= 1; covering[hi].append(id) }
            lo >>= 1
            hi >>= 1
        }
    }

    /// Calls `body` once for each placed buffer alive at some time `id` is.
    func forEachPlaced(overlapping id: Int, _ body: (Int) -> Void) {
        let a = first[id], b = last[id]
        for t in a...b { for other in startingAt[t] { body(other) } }
        var node = a + leaves
        while node >= 1 {
            for other in covering[node] where first[other] < a { body(other) }
            node >>= 1
        }
    }
}
