import FlatBuffers
import Foundation
import TestSupport
import XCTest

@testable import TFRewrite

/// TF1 while frames (Enter/Merge/Switch/NextIteration/Exit/LoopCond) and TensorArrays, unrolled
/// at import when the trip count is constant: hand-built frames, our dynamic_rnn fixture and the
/// ML-KWS Basic_LSTM_S graph (Fixtures/generate_tf1_lstm.py made the references).
final class GraphDefWhileLoopTests: XCTestCase {
    static let frame: [(String, TestAttr)] = [("T", .type(.float)), ("frame_name", .s("loop/while_context")), ("parallel_iterations", .i(10))]
    static func enter(_ name: String, _ input: String, constant: Bool) -> TestNode {
        TestNode(name, "Enter", [input], frame + [("is_constant", .b(constant))])
    }

    /// acc = x; for i in 0..<n { acc = tanh(acc) + x }: a counter and a float loop variable, x
    /// loop-invariant, written as tf.while_loop builds it.
    static func counterLoop(trips: Int32, condition: String = "loop/Less") -> [TestNode] {
        let t: [(String, TestAttr)] = [("T", .type(.float))]
        let ti: [(String, TestAttr)] = [("T", .type(.int32))]
        return [
            .placeholder("x", [1, 3]),
            .const("zero", .ints([0], [])), .const("n", .ints([trips], [])), .const("one", .ints([1], [])),
            .const("limit", .floats([0.5], [])),
            enter("loop/Enter", "zero", constant: false),
            enter("loop/Enter_1", "x", constant: false),
            enter("loop/Enter_x", "x", constant: true),
            enter("loop/Enter_n", "n", constant: true),
            enter("loop/Enter_limit", "limit", constant: true),
            TestNode("loop/Merge", "Merge", ["loop/Enter", "loop/NextIteration"], ti),
            TestNode("loop/Merge_1", "Merge", ["loop/Enter_1", "loop/NextIteration_1"], t),
            TestNode("loop/Less", "Less", ["loop/Merge", "loop/Enter_n"], ti),
            TestNode("loop/Greater", "Greater", ["loop/Merge_1", "loop/Enter_limit"], t),
            TestNode("loop/LoopCond", "LoopCond", [condition]),
            TestNode("loop/Switch", "Switch", ["loop/Merge", "loop/LoopCond"], ti),
            TestNode("loop/Switch_1", "Switch", ["loop/Merge_1", "loop/LoopCond"], t),
            TestNode("loop/Identity", "Identity", ["loop/Switch:1"], ti),
            TestNode("loop/Identity_1", "Identity", ["loop/Switch_1:1"], t),
            TestNode("loop/add", "AddV2", ["loop/Identity", "one", "^loop/Identity"], ti),
            TestNode("loop/Tanh", "Tanh", ["loop/Identity_1"], t),
            TestNode("loop/sum", "AddV2", ["loop/Tanh", "loop/Enter_x"], t),
            TestNode("loop/NextIteration", "NextIteration", ["loop/add"], ti),
            TestNode("loop/NextIteration_1", "NextIteration", ["loop/sum"], t),
            TestNode("loop/Exit_1", "Exit", ["loop/Switch_1"], t),
            TestNode("out", "Identity", ["loop/Exit_1"], t),
        ]
    }

    func load(_ nodes: [TestNode], output: String = "out") throws -> Model {
        let path = try writeTemporary(graphDefBytes(nodes), name: "loop.pb")
        return try ModelLoader.load(path: path, options: ModelLoadOptions(graph: GraphDefImportOptions(outputs: [.init(tensor: TFTensorRef(node: output))]), verify: true))
    }

    func testCounterLoopUnrollsIntoItsBodyOps() throws {
        let m = try load(Self.counterLoop(trips: 3))
        XCTAssertEqual(opNames(m), ["TANH", "ADD", "TANH", "ADD", "TANH", "ADD"])
        let g = m.subgraphs[0]
        XCTAssertEqual(g.ops.map { g[$0.outputs[0]].name }, ["loop/Tanh/iter0", "loop/sum/iter0", "loop/Tanh/iter1", "loop/sum/iter1", "loop/Tanh/iter2", "out"])
        let x: [Float] = [0.3, -1.2, 2.0]
        var acc = x
        for _ in 0..<3 { acc = zip(acc, x).map { tanh($0) + $1 } }
        XCTAssertLessThan(maxAbsDifference(try runFloatModel(m, inputs: [x]), [acc]), 1e-6)
    }

    func testZeroTripLoopPassesTheInitialValue() throws {
        // The Exit reads the Merge of the first iteration: the output is x itself, which is an
        // input, so name the loop's last Tanh-free result through an op.
        var nodes = Self.counterLoop(trips: 0)
        nodes.removeLast()
        nodes.append(TestNode("out", "Tanh", ["loop/Exit_1"], [("T", .type(.float))]))
        let m = try load(nodes)
        XCTAssertEqual(opNames(m), ["TANH"])
    }

    func testRunTimeConditionIsAnError() throws {
        XCTAssertThrowsError(try load(Self.counterLoop(trips: 3, condition: "loop/Greater"))) { error in
            let text = String(describing: error)
            XCTAssertTrue(text.hasPrefix("LoopCond node 'loop/LoopCond': its predicate"), text)
            XCTAssertTrue(text.contains("is computed at run time"), text)
        }
    }

    func testTripLimitIsAnError() throws {
        XCTAssertThrowsError(try load(Self.counterLoop(trips: 5000))) { error in
            XCTAssertEqual(String(describing: error), "while loop 'loop/while_context' runs more than 1024 iterations, too many to unroll into a TFLite model")
        }
        let path = try writeTemporary(graphDefBytes(Self.counterLoop(trips: 5000)), name: "long.pb")
        let out = try TestPaths.temporaryDirectory().appendingPathComponent("long.tflite").path
        let r = try runTool([path, "--output-arrays", "out", "-o", out])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(r.stderr, "tfrewrite: error: while loop 'loop/while_context' runs more than 1024 iterations, too many to unroll into a TFLite model\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func testNestedLoopsAreRefused() throws {
        var nodes = Self.counterLoop(trips: 2)
        nodes.append(TestNode("inner/Enter", "Enter", ["loop/Identity_1"], [("T", .type(.float)), ("frame_name", .s("inner")), ("is_constant", .b(false))]))
        nodes.append(TestNode("use", "Tanh", ["inner/Enter"], [("T", .type(.float))]))
        XCTAssertThrowsError(try load(nodes, output: "use")) { error in
            XCTAssertTrue(String(describing: error).contains("nested while loops are not supported"), String(describing: error))
        }
    }

    /// Split and Unpack outside loops: SPLIT and UNPACK with every output.
    func testSplitAndUnpackLowerToMultiOutputOps() throws {
        let t: [(String, TestAttr)] = [("T", .type(.float))]
        let nodes: [TestNode] = [
            .placeholder("x", [2, 4]),
            .const("axis", .ints([1], [])),
            TestNode("split", "Split", ["axis", "x"], t + [("num_split", .i(2))]),
            TestNode("unpack", "Unpack", ["x"], t + [("num", .i(2)), ("axis", .i(0))]),
            TestNode("a", "Mul", ["split:1", "split"], t),
            TestNode("b", "Mul", ["unpack:1", "unpack"], t),
        ]
        let x: [Float] = [1, 2, 3, 4, 5, 6, 7, 8]
        let a = try load(nodes, output: "a")
        XCTAssertEqual(opNames(a), ["SPLIT", "MUL"])
        // [[1,2],[5,6]] · [[3,4],[7,8]]
        XCTAssertEqual(try runFloatModel(a, inputs: [x]), [[3, 8, 35, 48]])
        let b = try load(nodes, output: "b")
        XCTAssertEqual(opNames(b), ["UNPACK", "MUL"])
        XCTAssertEqual(try runFloatModel(b, inputs: [x]), [[5, 12, 21, 32]])
    }

    // MARK: - The dynamic_rnn fixture

    func testDynamicRNNFixtureMatchesTensorFlow() throws {
        let m = try ModelLoader.load(path: TestPaths.graphDef("tf1_lstm_digits"), options: ModelLoadOptions(graph: GraphDefImportOptions(outputs: [.init(tensor: TFTensorRef(node: "probabilities"))]), verify: true))
        let ops = opNames(m)
        XCTAssertTrue(Set(ops).isDisjoint(with: ["WHILE", "CUSTOM"]), "\(ops)")
        XCTAssertEqual(ops.filter { $0 == "FULLY_CONNECTED" }.count, 9, "\(ops)")  // 8 steps + the classifier
        XCTAssertEqual(ops.filter { $0 == "UNPACK" }.count, 1)
        XCTAssertEqual(ops.filter { $0 == "PACK" }.count, 1)
        let inputs = try readFloatNpy(TestPaths.fixtures.appendingPathComponent("heldout/tf1_lstm_digits_inputs.npy").path)
        let expected = try readFloatNpy(TestPaths.fixtures.appendingPathComponent("heldout/tf1_lstm_digits_tf_outputs.npy").path)
        let n = 100
        let xs = (0..<n).map { Array(inputs.values[($0 * 64)..<(($0 + 1) * 64)]) }
        let ys = (0..<n).map { Array(expected.values[($0 * 10)..<(($0 + 1) * 10)]) }
        let diff = maxAbsDifference(try runFloatModel(m, inputs: xs), ys)
        XCTAssertLessThan(diff, 1e-5, "max |ours − TF| = \(diff)")
        // The same weights once: 8 time steps read one kernel.
        XCTAssertEqual(Set(m.subgraphs[0].ops.filter { $0.kind.builtinOperator == .fullyConnected }.map { $0.inputs[1] }).count, 2)
    }

    func testImportOfLoopsIsDeterministic() throws {
        let path = TestPaths.graphDef("tf1_lstm_digits")
        let dir = try TestPaths.temporaryDirectory()
        var outputs: [Data] = []
        for k in 0..<2 {
            let out = dir.appendingPathComponent("d\(k).tflite").path
            let r = try runTool([path, "--output-arrays", "probabilities", "-o", out])
            XCTAssertEqual(r.status, 0, r.stderr)
            outputs.append(try Data(contentsOf: URL(fileURLWithPath: out)))
        }
        XCTAssertEqual(outputs[0], outputs[1])
    }

    // MARK: - Basic_LSTM_S (ML-KWS)

    func testBasicLSTMConvertsAndMatchesTensorFlow() throws {
        let path = try TestPaths.corpusGraph("Basic_LSTM_S")
        let m = try ModelLoader.load(path: path, options: ModelLoadOptions(graph: GraphDefImportOptions(inputs: [try ModelLoadOptions.parseInput("Mfcc")], outputs: [try ModelLoadOptions.parseOutput("labels_softmax")]), verify: true))
        let ops = opNames(m)
        XCTAssertEqual(ops.filter { $0 == "FULLY_CONNECTED" }.count, 50, "\(Set(ops))")  // 49 steps + the classifier
        XCTAssertTrue(Set(ops).isSubset(of: ["TRANSPOSE", "RESHAPE", "UNPACK", "CONCATENATION", "FULLY_CONNECTED", "SPLIT", "ADD", "MUL", "LOGISTIC", "TANH", "SOFTMAX"]), "\(Set(ops))")
        let inputs = try readFloatNpy(TestPaths.fixtures.appendingPathComponent("heldout/corpus_Basic_LSTM_S_inputs.npy").path)
        let expected = try readFloatNpy(TestPaths.fixtures.appendingPathComponent("heldout/corpus_Basic_LSTM_S_tf_outputs.npy").path)
        let n = 20
        let xs = (0..<n).map { Array(inputs.values[($0 * 490)..<(($0 + 1) * 490)]) }
        let ys = (0..<n).map { Array(expected.values[($0 * 12)..<(($0 + 1) * 12)]) }
        let diff = maxAbsDifference(try runFloatModel(m, inputs: xs), ys)
        XCTAssertLessThan(diff, 1e-5, "max |ours − TF| = \(diff) over \(n) inputs")
        // The LSTM kernel is stored once, not once per step.
        XCTAssertEqual(Set(m.subgraphs[0].ops.filter { $0.kind.builtinOperator == .fullyConnected }.map { $0.inputs[1] }).count, 2)
    }
}
