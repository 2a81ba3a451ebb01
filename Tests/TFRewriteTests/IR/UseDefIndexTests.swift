import XCTest

@testable import TFRewrite

/// The rewriter's use/def answers come from `UseDefIndex`; they must equal the whole-graph
/// scans of `Graph` (`producer(of:)`, `uses(of:)`) after any sequence of edits.
final class UseDefIndexTests: XCTestCase {
    private func value(_ g: inout Graph, _ name: String) -> ValueID {
        g.addValue(Value(name: name, type: ElementType(.float32), shape: [1, 4]))
    }

    /// Every question the index answers, asked of the index and of the scans.
    private func assertAgrees(_ r: Rewriter, _ step: String, file: StaticString = #filePath, line: UInt = #line) {
        let g = r.graph
        for raw in -1..<Int32(g.values.count + 2) {
            let v = ValueID(raw)
            XCTAssertEqual(r.producer(of: v), g.producer(of: v), "producer of \(v) after \(step)", file: file, line: line)
            let indexed = r.uses(of: v).map { "\($0.op):\($0.operand)" }
            let scanned = g.uses(of: v).map { "\($0.op):\($0.operand)" }
            XCTAssertEqual(indexed, scanned, "uses of \(v) after \(step)", file: file, line: line)
            XCTAssertEqual(r.useCount(of: v), scanned.count, "use count of \(v) after \(step)", file: file, line: line)
        }
    }

    func testEditsThroughTheRewriterKeepTheIndexExact() {
        var g = Graph(name: "main")
        let x = value(&g, "x"), a = value(&g, "a"), b = value(&g, "b"), c = value(&g, "c"), d = value(&g, "d")
        g.inputs = [x]
        g.addOp(Op(kind: .relu, inputs: [x], outputs: [a]))
        g.addOp(Op(kind: .add(ArithmeticAttributes()), inputs: [a, a], outputs: [b]))
        g.addOp(Op(kind: .relu, inputs: [b], outputs: [c]))
        g.addOp(Op(kind: .add(ArithmeticAttributes()), inputs: [c, a], outputs: [d]))
        g.outputs = [d]
        var r = Rewriter(model: Model(subgraphs: [g]), subgraph: 0, context: PassContext())
        assertAgrees(r, "building")
        XCTAssertEqual(r.producer(of: c), OpID(2))
        XCTAssertEqual(r.uses(of: a).map(\.operand), [0, 1, 1])
        XCTAssertFalse(r.hasSingleUse(a))
        XCTAssertTrue(r.hasSingleUse(b))
        XCTAssertFalse(r.hasSingleUse(d), "a graph output is used by the graph")

        r.replaceAllUses(of: a, with: x)
        assertAgrees(r, "replaceAllUses a → x")
        XCTAssertEqual(r.useCount(of: a), 0)
        XCTAssertEqual(r.uses(of: x).map(\.op), [OpID(0), OpID(1), OpID(1), OpID(3)])

        r[OpID(1)].inputs[1] = a
        assertAgrees(r, "one input back to a")
        r[OpID(1)].inputs[1] = x
        r[OpID(1)].inputs[1] = a
        assertAgrees(r, "an input moved away and back (no duplicate entries)")

        r.erase(OpID(2))
        assertAgrees(r, "erasing the producer of c")
        XCTAssertNil(r.producer(of: c))

        // A second writer of d (only in broken graphs), appended, then the first one erased.
        let e = r.addValue(Value(name: "e", type: ElementType(.float32), shape: [1, 4]))
        let added = r.addOp(Op(kind: .relu, inputs: [b, .absent], outputs: [d, e]))
        assertAgrees(r, "appending an op")
        XCTAssertEqual(r.producer(of: d), OpID(3))
        r.erase(OpID(3))
        assertAgrees(r, "erasing the first writer")
        XCTAssertEqual(r.producer(of: d), added)

        r[added].inputs.append(c)
        r[added].outputs[1] = c
        assertAgrees(r, "inputs and outputs grown and changed")

        r.graph.ops[1].inputs[1] = x  // past the rewriter's helpers: the index is rebuilt
        assertAgrees(r, "a direct edit of the graph")
        XCTAssertTrue(r.graph.compact())
        assertAgrees(r, "compact (op indices moved)")
    }

    func testARewriterOverNoGraphIsMadeWithoutTrapping() {
        let r = Rewriter(model: Model(), subgraph: 0, context: PassContext())
        XCTAssertEqual(r.subgraph, 0)
    }

    func testRandomEditsAgreeWithTheScans() {
        var rng = SplitMix64(seed: 7)
        for round in 0..<20 {
            var g = Graph(name: "g")
            let n = 3 + rng.next(8)
            for i in 0..<n { _ = value(&g, "v\(i)") }
            g.inputs = [ValueID(0)]
            for i in 1..<n {
                g.addOp(Op(kind: .add(ArithmeticAttributes()), inputs: [ValueID(rng.next(i)), ValueID(rng.next(i))], outputs: [ValueID(i)]))
            }
            g.outputs = [ValueID(n - 1)]
            var r = Rewriter(model: Model(subgraphs: [g]), subgraph: 0, context: PassContext())
            for step in 0..<40 {
                let ops = r.graph.ops.count, values = r.graph.values.count
                let op = OpID(rng.next(ops)), v = ValueID(rng.next(values))
                let label = "round \(round) step \(step)"
                switch rng.next(6) {
                case 0: r[op].inputs[rng.next(r[op].inputs.count)] = v
                case 1: r.erase(op)
                case 2: r.replaceAllUses(of: v, with: ValueID(rng.next(values)))
                case 3:
                    let out = r.addValue(Value(name: "n\(step)", type: ElementType(.float32), shape: [1, 4]))
                    r.addOp(Op(kind: .relu, inputs: [v], outputs: [rng.next(3) == 0 ? v : out]))
                case 4: r[op].outputs[0] = v
                default: r[op].inputs.append(rng.next(4) == 0 ? .absent : v)
                }
                assertAgrees(r, label)
            }
        }
    }

    func testDeadCodeRemovalFollowsChains() {
        // x → relu a → relu b → relu c (nothing reads c), and x → relu y (the output): the
        // dead chain goes in one call, whatever the op order.
        var g = Graph(name: "main")
        let x = value(&g, "x"), a = value(&g, "a"), b = value(&g, "b"), c = value(&g, "c"), y = value(&g, "y")
        g.inputs = [x]
        g.addOp(Op(kind: .relu, inputs: [x], outputs: [a]))
        g.addOp(Op(kind: .relu, inputs: [x], outputs: [y]))
        g.addOp(Op(kind: .relu, inputs: [a], outputs: [b]))
        g.addOp(Op(kind: .relu, inputs: [b], outputs: [c]))
        g.outputs = [y]
        var m = Model(subgraphs: [g])
        ImportPipeline.removeDeadCode(&m)
        XCTAssertEqual(m.main.ops.count, 1)
        XCTAssertEqual(m.main.values.map(\.name), ["x", "y"])
        XCTAssertEqual(m.main.ops[0].inputs, [ValueID(0)])
        XCTAssertEqual(m.main.ops[0].outputs, [ValueID(1)])
    }
}

extension SplitMix64 {
    /// A seeded number in 0..<bound (0 for an empty range).
    mutating func next(_ bound: Int) -> Int { bound > 0 ? Int.random(in: 0..<bound, using: &self) : 0 }
}
