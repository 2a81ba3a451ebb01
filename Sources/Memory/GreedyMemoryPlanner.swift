/// TFLM's `GreedyMemoryPlanner` (tensorflow/lite/micro/memory_planner/greedy_memory_planner.cc):
/// buffers sorted by size, largest first, each placed at the lowest offset where it overlaps no
/// buffer already placed that is alive at the same time. Ties keep TFLM's order exactly: the
/// online buffers enter the sort array last-first and its bubble sort is stable.
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

    package init(_ buffers: [Buffer]) {
        offsets = Array(repeating: -1, count: buffers.count)
        maximumSize = 0
        guard !buffers.isEmpty else { return }
        // Offline buffers first in their order, then online ones from the last to the first,
        // stably sorted by decreasing size (CalculateOffsetsIfNeeded + ReverseSortInPlace).
        let offline = buffers.indices.filter { buffers[$0].offlineOffset != nil }
        let online = buffers.indices.reversed().filter { buffers[$0].offlineOffset == nil }
        let sortedOnline = online.enumerated().sorted { a, b in
            let sa = buffers[a.element].size, sb = buffers[b.element].size
            return sa != sb ? sa > sb : a.offset < b.offset
        }.map(\.element)
        let order = offline + sortedOnline
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
            let at = lo
            placed.insert((candidate, id), at: at)
        }
        maximumSize = placed.map { $0.offset + buffers[$0.id].size }.max() ?? 0
    }
}
