import XCTest

@testable import TFRewrite

/// `lcsAlign` matches a common prefix without its table; the steps must be exactly those of
/// the full table (the alignment decides what `tfrewrite diff` prints).
final class OpAlignmentTests: XCTestCase {
    /// The alignment computed with the whole table, as before the prefix was skipped.
    private func fullTableAlignment(_ a: [String], _ b: [String]) -> [String] {
        let n = a.count, m = b.count
        var dp = [[Int]](repeating: [Int](repeating: 0, count: m + 1), count: n + 1)
        for i in stride(from: n - 1, through: 0, by: -1) where m > 0 {
            for j in stride(from: m - 1, through: 0, by: -1) {
                dp[i][j] = a[i] == b[j] ? dp[i + 1][j + 1] + 1 : max(dp[i + 1][j], dp[i][j + 1])
            }
        }
        var steps: [String] = []
        var i = 0, j = 0
        while i < n || j < m {
            if i < n && j < m && a[i] == b[j] {
                steps.append("=\(i),\(j)"); i += 1; j += 1
            } else if j < m && (i == n || dp[i][j + 1] >= dp[i + 1][j]) {
                if i < n && dp[i + 1][j] == dp[i][j + 1] { steps.append("-\(i)"); i += 1 } else { steps.append("+\(j)"); j += 1 }
            } else {
                steps.append("-\(i)"); i += 1
            }
        }
        return steps
    }

    private func render(_ steps: [AlignStep]) -> [String] {
        steps.map {
            switch $0 {
            case .match(let i, let j): return "=\(i),\(j)"
            case .delete(let i): return "-\(i)"
            case .insert(let j): return "+\(j)"
            }
        }
    }

    func testSameStepsAsTheFullTable() {
        var rng = SplitMix64(seed: 13)
        let names = ["ADD", "RELU", "CONV_2D", "QUANTIZE"]
        for _ in 0..<400 {
            let prefix = (0..<rng.next(5)).map { _ in names[rng.next(names.count)] }
            let a = prefix + (0..<rng.next(7)).map { _ in names[rng.next(2)] }
            let b = prefix + (0..<rng.next(7)).map { _ in names[rng.next(3)] }
            XCTAssertEqual(render(lcsAlign(a, b)), fullTableAlignment(a, b), "\(a) vs \(b)")
        }
        XCTAssertEqual(render(lcsAlign(["RELU"], ["ADD", "RELU", "RELU"])), ["+0", "=0,1", "+2"])
    }

    func testLongEqualSequencesNeedNoTable() {
        // 200k ops on each side: a table would be 4·10¹⁰ cells.
        let a = (0..<200_000).map { $0 % 2 == 0 ? "ADD" : "RELU" }
        XCTAssertEqual(lcsAlign(a, a + ["SOFTMAX"]).count, 200_001)
    }
}
