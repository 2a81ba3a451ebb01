import Foundation
import FlatBuffers
import XCTest

@testable import TFRewrite

final class CleanupTests: XCTestCase {
    /// The example of the pass's doc comment.
    func docExample() -> Model {
        var b = PassGraphBuilder()
        let x = b.input("x", int8Type(0.5, 0), [1, 4])
        let s = b.ints("s", [1, 4])
        let r = b.value("r", int8Type(0.5, 0), [1, 4])
        let q = b.value("q", int8Type(0.5, 0), [1, 4])
        let y = b.value("y", int8Type(0.00390625, -128), [1, 4])
        b.ints("unused", [7, 7, 7])
        let dead = b.value("dead", int8Type(0.5, 0), [1, 4])
        b.op(.reshape(newShape: nil), [x, s], [r])
        b.op(.quantize, [r], [q])
        b.op(.relu, version: 2, [q], [dead])
        b.op(.softmax(beta: 1), version: 2, [q], [y])
        b.output(y)
        return b.model
    }

    func testDocExampleGolden() throws {
        let given = docExample()
        var m = given
        var ctx = PassContext()
        XCTAssertTrue(try runVerified([Cleanup()], on: &m, context: &ctx))
        GoldenIR.check("cleanup.basic", given: given, passes: "cleanup", result: m)
        XCTAssertEqual(m.subgraphs[0].values.count, 2)
        XCTAssertEqual(m.buffers.count, 1, "only the empty sentinel should remain")
        XCTAssertEqual(ctx.statistics["remove-identity-reshape"], 1)
        XCTAssertEqual(ctx.statistics["remove-noop-quantize"], 1)
        XCTAssertEqual(ctx.statistics["cleanup.dead-ops"], 1)
    }

    func testOptionsTurnStepsOff() throws {
        var m = docExample()
        let off = PassOptions(["identity_reshapes": .bool(false), "noop_quantizes": .bool(false), "dead_ops": .bool(false), "compact": .bool(false), "share_buffers": .bool(false)])
        XCTAssertFalse(try runVerified([try Cleanup(options: off)], on: &m))
        XCTAssertEqual(m, docExample())
    }

    func testKeepsIOBoundariesAndRequantizes() throws {
        var b = PassGraphBuilder()
        let x = b.input("x", int8Type(0.5, 0), [1, 4])
        let q = b.value("q", int8Type(0.25, 0), [1, 4])  // a real requantize
        let r = b.value("r", int8Type(0.25, 0), [1, 4])  // identity reshape, but a graph output
        let r2 = b.value("r2", int8Type(0.25, 0), [2, 2])  // a real reshape
        b.op(.quantize, [x], [q])
        b.op(.reshape(newShape: nil), [q, b.ints("s", [1, 4])], [r])
        b.op(.reshape(newShape: nil), [q, b.ints("s2", [2, 2])], [r2])
        b.output(r)
        b.output(r2)
        var m = b.model
        try runVerified([Cleanup()], on: &m)
        XCTAssertEqual(liveOpNames(m), ["QUANTIZE", "RESHAPE", "RESHAPE"])
    }

    func testKeepsCustomAndStatefulOps() throws {
        var b = PassGraphBuilder()
        let x = b.input("x", float32Type, [1, 4])
        let c = b.value("c", float32Type, [1, 4])
        let t = b.value("t", float32Type, [1, 4])
        let d = b.value("d", float32Type, [1, 4])
        let out = b.value("out", float32Type, [1, 4])
        b.op(.custom(code: "MyOp"), [x], [c])
        b.op(.builtin(BuiltinOperator(name: "RANDOM_UNIFORM")!, options: nil), [x], [t])
        b.op(.builtin(BuiltinOperator(name: "TRANSPOSE")!, options: nil), [x, b.ints("perm", [0, 1])], [d])
        b.op(.relu, [x], [out])
        b.output(out)
        var m = b.model
        try runVerified([Cleanup()], on: &m)
        XCTAssertEqual(liveOpNames(m), ["MyOp", "RANDOM_UNIFORM", "RELU"], "TRANSPOSE is pure and dead; the others must stay")
    }

    func testVariableTensorsAndTheirOpsStay() throws {
        var b = PassGraphBuilder()
        let x = b.input("x", float32Type, [1, 4])
        let state = b.value("state", float32Type, [1, 4])
        b.graph.values[state.index].isVariable = true
        let y = b.value("y", float32Type, [1, 4])
        let dead = b.value("dead", float32Type, [1, 4])
        b.op(.add(ArithmeticAttributes()), [x, state], [dead])
        b.op(.relu, [x], [y])
        b.output(y)
        var m = b.model
        try runVerified([Cleanup()], on: &m)
        XCTAssertEqual(liveOpNames(m), ["ADD", "RELU"])
        XCTAssertTrue(m.subgraphs[0].values.contains { $0.name == "state" && $0.isVariable })
    }

    func testSharesIdenticalConstants() throws {
        var b = PassGraphBuilder()
        let x = b.input("x", float32Type, [1, 2])
        let w1 = b.constant("w1", ConstantTensor(floats: [1, 2, 3, 4], shape: [2, 2]))
        let w2 = b.constant("w2", ConstantTensor(floats: [1, 2, 3, 4], shape: [2, 2]))
        let y1 = b.value("y1", float32Type, [1, 2]), y2 = b.value("y2", float32Type, [1, 2])
        b.op(.fullyConnected(FullyConnectedAttributes()), [x, w1, .absent], [y1])
        b.op(.fullyConnected(FullyConnectedAttributes()), [y1, w2, .absent], [y2])
        b.output(y2)
        var m = b.model
        let sizeBefore = TFLiteExporter.serialize(m).totalSize
        var ctx = PassContext()
        try runVerified([Cleanup()], on: &m, context: &ctx)
        let g = m.subgraphs[0]
        XCTAssertEqual(g[w1].buffer, g[w2].buffer)
        XCTAssertEqual(m.buffers.count, 2)
        XCTAssertEqual(ctx.statistics["cleanup.buffers-shared"], 1)
        XCTAssertLessThan(TFLiteExporter.serialize(m).totalSize, sizeBefore)
        // Survives export and import with both tensors reading the shared data.
        let back = try exportAndImport(m)
        XCTAssertEqual(back.constant(back.subgraphs[0].values[w2.index])?.floats, [1, 2, 3, 4])
    }

    func testOfflinePlanPinsTensorNumbers() throws {
        var m = docExample()
        let meta = m.addBuffer(ByteSlice([1, 2, 3, 4]))
        m.metadata = [Metadata(name: "OfflineMemoryAllocation", buffer: meta)]
        let count = m.subgraphs[0].values.count
        var ctx = PassContext()
        try runVerified([Cleanup()], on: &m, context: &ctx)
        XCTAssertEqual(m.subgraphs[0].values.count, count)
        XCTAssertEqual(liveOpNames(m), ["SOFTMAX"])
        XCTAssertTrue(ctx.notes.contains { $0.contains("OfflineMemoryAllocation") })
        XCTAssertEqual(m.metadata(named: "OfflineMemoryAllocation")?.array, [1, 2, 3, 4])
    }

    /// Vela writes TFLM's offline memory plan; tensor numbers must survive cleanup and strip.
    func testVelaOfflinePlanFromCorpus() throws {
        let url = try TestPaths.corpusDirectory("tflite").appendingPathComponent("person_detect_vela.tflite")
        guard FileManager.default.fileExists(atPath: url.path) else { throw XCTSkip("corpus model person_detect_vela.tflite absent") }
        var m = try TFLiteImporter.load(path: url.path)
        let plan = m.metadata(named: "OfflineMemoryAllocation")?.array
        XCTAssertNotNil(plan)
        let values = m.subgraphs.map(\.values.count)
        var ctx = PassContext()
        try runVerified([Cleanup(), try Strip(options: PassOptions(["metadata": .bool(true)]))], on: &m, context: &ctx)
        XCTAssertEqual(m.subgraphs.map(\.values.count), values)
        XCTAssertEqual(m.metadata(named: "OfflineMemoryAllocation")?.array, plan)
        XCTAssertTrue(ctx.notes.contains { $0.contains("OfflineMemoryAllocation") }, "\(ctx.notes)")
    }

    // MARK: compactValues / removeUnusedBuffers

    func testCompactValuesRenumbersEverything() {
        var b = PassGraphBuilder()
        let unused0 = b.value("unused0", float32Type, [1])
        let x = b.input("x", float32Type, [1, 4])
        let unused1 = b.value("unused1", float32Type, [1])
        let tmp = b.value("tmp", float32Type, [1, 4])
        let y = b.value("y", float32Type, [1, 4])
        let sig = b.value("sig", float32Type, [1])
        let state = b.value("state", float32Type, [1])
        b.graph.values[state.index].isVariable = true
        b.graph.addOp(Op(kind: .relu, inputs: [x], outputs: [y], intermediates: [tmp]))
        b.graph.addOp(Op(kind: .relu, inputs: [x], outputs: [b.value("erased", float32Type, [1, 4])]))
        b.graph.ops[1].isErased = true
        b.output(y)
        var m = b.model
        m.signatureDefs = [SignatureDef(key: "serving_default", inputs: [.init(name: "x", tensor: x), .init(name: "extra", tensor: sig)], outputs: [.init(name: "y", tensor: y)], subgraph: 0)]
        let map = m.compactValues(inSubgraph: 0)
        XCTAssertEqual(map, [nil, 0, nil, 1, 2, 3, 4, nil])
        let g = m.subgraphs[0]
        XCTAssertEqual(g.values.map(\.name), ["x", "tmp", "y", "sig", "state"])
        XCTAssertEqual(g.inputs, [ValueID(0)])
        XCTAssertEqual(g.outputs, [ValueID(2)])
        XCTAssertEqual(g.ops.count, 1)
        XCTAssertEqual(g.ops[0].inputs, [ValueID(0)])
        XCTAssertEqual(g.ops[0].outputs, [ValueID(2)])
        XCTAssertEqual(g.ops[0].intermediates, [ValueID(1)])
        XCTAssertEqual(m.signatureDefs[0].inputs.map(\.tensor), [ValueID(0), ValueID(3)])
        XCTAssertEqual(m.signatureDefs[0].outputs.map(\.tensor), [ValueID(2)])
        _ = (unused0, unused1)
        XCTAssertEqual(Verifier.verify(m), [])
    }

    func testCompactValuesLeavesDanglingModelsAlone() {
        var m = docExample()
        m.subgraphs[0].outputs.append(ValueID(99))
        let before = m
        XCTAssertNil(m.compactValues(inSubgraph: 0))
        XCTAssertEqual(m, before)
        XCTAssertNil(m.compactValues(inSubgraph: 5))
    }

    func testRemoveUnusedBuffersKeepsSentinelAndMetadata() {
        var m = Model()
        m.subgraphs = [Graph(name: "main")]
        let a = m.addBuffer(ByteSlice([1]))  // unused
        let meta = m.addBuffer(ByteSlice([2]))
        let old = m.addBuffer(ByteSlice([3]))  // deprecated metadata_buffer
        let unusedEmpty = m.addBuffer(ByteSlice([]))
        let w = m.addConstant(Value(name: "w", type: ElementType(.int8), shape: [1]), data: ByteSlice([4]))
        m.metadata = [Metadata(name: "min_runtime_version", buffer: meta)]
        m.metadataBuffer = [Int32(old.raw)]
        _ = (a, unusedEmpty)
        XCTAssertEqual(m.removeUnusedBuffers(), 2)
        XCTAssertEqual(m.buffers.count, 4)
        XCTAssertTrue(m.buffers[0].isEmpty)
        XCTAssertEqual(m.metadata[0].buffer, BufferID(1))
        XCTAssertEqual(m.metadataBuffer, [2])
        XCTAssertEqual(m.subgraphs[0][w].buffer, BufferID(3))
        XCTAssertEqual(m.constant(w)?.bytes, [4])
        XCTAssertEqual(m.removeUnusedBuffers(), 0)
    }

    func testRandomGraphsCompactConsistently() throws {
        // Random DAGs of RELU/ADD with random dead branches and unused values: after cleanup
        // the verifier is happy, every graph output is still produced by the same op kind
        // chain, and re-running cleanup changes nothing.
        var rng = SplitMix64(seed: 77)
        for _ in 0..<50 {
            var b = PassGraphBuilder()
            var live = [b.input("x", float32Type, [1, 4])]
            for i in 0..<Int.random(in: 2...15, using: &rng) {
                if Bool.random(using: &rng) { b.value("junk\(i)", float32Type, [1]) }
                if Int.random(in: 0..<4, using: &rng) == 0 { b.constant("c\(i)", ConstantTensor(floats: [Float(i % 3)], shape: [1])) }
                let out = b.value("v\(i)", float32Type, [1, 4])
                if Bool.random(using: &rng) || live.count < 2 {
                    b.op(.relu, [live.randomElement(using: &rng)!], [out])
                } else {
                    b.op(.add(ArithmeticAttributes()), [live.randomElement(using: &rng)!, live.randomElement(using: &rng)!], [out])
                }
                live.append(out)
            }
            b.output(live.last!)
            if Bool.random(using: &rng) { b.output(live[live.count / 2]) }
            var m = b.model
            let liveOpsBefore = m.subgraphs[0].ops.count
            try runVerified([Cleanup()], on: &m)
            XCTAssertLessThanOrEqual(m.subgraphs[0].ops.count, liveOpsBefore)
            XCTAssertEqual(m.subgraphs[0].outputs.count, b.model.subgraphs[0].outputs.count)
            for v in m.subgraphs[0].outputs { XCTAssertNotNil(m.subgraphs[0].producer(of: v)) }
            // Every remaining value is used or produced or is I/O.
            let g = m.subgraphs[0]
            let referenced = Set(g.ops.flatMap { $0.inputs + $0.outputs } + g.inputs + g.outputs)
            XCTAssertEqual(referenced.count, g.values.count)
            var again = m
            XCTAssertFalse(try runVerified([Cleanup()], on: &again))
            XCTAssertEqual(again, m)
        }
    }

    func testRejectsUnknownOption() {
        XCTAssertThrowsError(try Cleanup(options: PassOptions(["dedupe": .bool(true)], location: "m.yaml:4"))) { e in
            XCTAssertEqual("\(e)", "m.yaml:4: pass cleanup: option 'dedupe': unknown option (known options: compact, dead_ops, identity_reshapes, noop_quantizes, share_buffers)")
        }
    }
}
