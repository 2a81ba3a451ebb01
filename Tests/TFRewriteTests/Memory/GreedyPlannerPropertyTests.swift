import XCTest

@testable import Memory
@testable import Quantize

/// The indexed greedy planner places every buffer where TFLM's own scan of all placed buffers
/// does (`GreedyMemoryPlanner.Method.tflmScan`), on many random plans.
final class GreedyPlannerPropertyTests: XCTestCase {
    /// Buffers as a model's tensors give them: a producer step, a last reader a few steps later
    /// (sometimes much later, as a skip connection or a graph output), sizes from a few values
    /// (so ties are common), now and then an offline offset.
    private func randomPlan(_ rng: inout SplitMix64) -> [GreedyMemoryPlanner.Buffer] {
        let count = Int.random(in: 1...120, using: &rng)
        let steps = Int.random(in: 1...max(1, count), using: &rng)
        let sizes = (0..<Int.random(in: 1...6, using: &rng)).map { _ in 16 * Int.random(in: 1...64, using: &rng) }
        let offlineShare = Int.random(in: 0...3, using: &rng)
        return (0..<count).map { _ in
            let first = Int.random(in: -1...steps, using: &rng)
            let span = Int.random(in: 0...9, using: &rng) == 0 ? Int.random(in: 0...steps, using: &rng) : Int.random(in: 0...2, using: &rng)
            let offline = Int.random(in: 0..<10, using: &rng) < offlineShare ? 16 * Int.random(in: 0...40, using: &rng) : nil
            return .init(size: sizes.randomElement(using: &rng)!, firstUsed: first, lastUsed: first + span, offlineOffset: offline)
        }
    }

    func testIndexedPlannerEqualsTFLMsScanOnRandomPlans() {
        for seed in 0..<3000 as Range<UInt64> {
            var rng = SplitMix64(seed: seed)
            let buffers = randomPlan(&rng)
            let indexed = GreedyMemoryPlanner(buffers, method: .indexed)
            let scanned = GreedyMemoryPlanner(buffers, method: .tflmScan)
            XCTAssertEqual(indexed.offsets, scanned.offsets, "seed \(seed)")
            XCTAssertEqual(indexed.maximumSize, scanned.maximumSize, "seed \(seed)")
            if indexed.offsets != scanned.offsets { return }
        }
    }

    /// A long chain (each buffer read by the next step) is planned without TFLM's quadratic walk.
    func testLongChainPlansQuickly() {
        let n = 100_000
        let buffers = (0..<n).map { GreedyMemoryPlanner.Buffer(size: 16 * (1 + $0 % 7), firstUsed: $0, lastUsed: $0 + 1) }
        let start = Date()
        _ = GreedyMemoryPlanner(buffers)
        XCTAssertLessThan(Date().timeIntervalSince(start), 10, "a 100k-buffer chain should plan in well under 10 s even in a debug build")
        let small = Array(buffers.prefix(2000))
        XCTAssertEqual(GreedyMemoryPlanner(small).offsets, GreedyMemoryPlanner(small, method: .tflmScan).offsets)
    }
}
