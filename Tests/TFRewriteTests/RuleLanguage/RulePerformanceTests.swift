import Foundation
import XCTest

@testable import TFRewrite

/// How much slower a rule is than the built-in pass it restates, on a long chain
/// (prints the times; fails only on a gross regression).
final class RulePerformanceTests: XCTestCase {
    func testFuseActivationRulesOnALongChain() throws {
        let n = 300
        var g = RuleGraphBuilder()
        var x = g.input("x", ruleF32, [1, 4, 4, 8])
        let w = g.constant("w", ConstantTensor(floats: (0..<64).map { Float($0) / 64 }, shape: [8, 1, 1, 8]))
        let b = g.constant("b", ConstantTensor(floats: Array(repeating: 0.1, count: 8), shape: [8]))
        for i in 0..<n {
            let t = g.value("conv\(i)", ruleF32, [1, 4, 4, 8])
            let y = g.value("relu\(i)", ruleF32, [1, 4, 4, 8])
            g.op(.conv2D(Conv2DAttributes(padding: .same, strideW: 1, strideH: 1)), [x, w, b], [t])
            g.op(i % 2 == 0 ? .relu : .relu6, [t], [y])
            x = y
        }
        g.output(x)
        let rules = try RuleExamples.pass("fuse_activation.yaml")
        var a = g.model, c = g.model
        let clock = ContinuousClock()
        var ctx = PassContext()
        let builtin = try clock.measure { var p = try FuseActivation(); _ = try p.run(on: &a, context: &ctx) }
        var ctx2 = PassContext()
        let declarative = try clock.measure { var p = rules; _ = try p.run(on: &c, context: &ctx2) }
        print("RulePerformanceTests: fuse-activation on \(2 * n) ops: built-in \(builtin), rules \(declarative)")
        XCTAssertEqual(serialized(a), serialized(c))
        XCTAssertEqual(a.subgraphs[0].ops.count, n)
        XCTAssertLessThan(declarative, builtin * 50 + .seconds(5))
    }
}
