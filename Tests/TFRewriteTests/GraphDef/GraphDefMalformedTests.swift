import FlatBuffers
import Foundation
import XCTest

@testable import TFRewrite

/// Broken GraphDefs, SavedModels and flags through the CLI: each must exit 2 with one line
/// `tfrewrite: error: …` that names the problem and where (node, flag, byte offset), and
/// write no output file.
final class GraphDefMalformedTests: XCTestCase {
    /// Runs `tfrewrite ARGS -o OUT`, checks the failure contract and returns the message.
    @discardableResult
    func expectFailure(_ args: [String], contains fragments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> String {
        let dir = try TestPaths.temporaryDirectory()
        let out = dir.appendingPathComponent("out.tflite").path
        let r = try runTool(args + ["-o", out])
        XCTAssertEqual(r.status, 2, "exit status; stderr: \(r.stderr)", file: file, line: line)
        let lines = r.stderr.split(separator: "\n", omittingEmptySubsequences: true)
        XCTAssertEqual(lines.count, 1, "one line expected: \(r.stderr)", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("tfrewrite: error: "), r.stderr, file: file, line: line)
        for f in fragments { XCTAssertTrue(r.stderr.contains(f), "'\(f)' missing from: \(r.stderr)", file: file, line: line) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "an output file was written", file: file, line: line)
        return r.stderr
    }

    func testTruncatedGraphDef() throws {
        let full = [UInt8](try Data(contentsOf: URL(fileURLWithPath: TestPaths.graphDef("tiny_conv"))))
        let path = try writeTemporary(Array(full.prefix(full.count / 2)))
        try expectFailure([path], contains: ["is not a valid GraphDef protobuf", "byte offset", "truncated", "(node #12 ('final_fc_weights') is cut short)"])
    }

    func testWrongWireType() throws {
        // NodeDef.name (field 1) written as a varint.
        var node = ProtoWriter()
        node.int(1, 7)
        node.string(2, "Placeholder")
        var g = ProtoWriter()
        g.data(1, node.bytes)
        let path = try writeTemporary(g.bytes)
        try expectFailure([path], contains: ["is not a valid GraphDef protobuf", "node #0", "wrong wire type"])
    }

    func testInputNamesAMissingNode() throws {
        let path = try writeTemporary(graphDefBytes(smallConvGraph(convInput: "nope")))
        try expectFailure([path, "--output", "relu"], contains: ["Conv2D node 'conv' reads 'nope', but the graph has no node of that name"])
    }

    func testCycle() throws {
        let nodes = [
            TestNode.placeholder("x", [1, 4]),
            TestNode("a", "AddV2", ["x", "b"], [("T", .type(.float))]),
            TestNode("b", "Relu", ["a"], [("T", .type(.float))]),
            TestNode("out", "Softmax", ["b"], [("T", .type(.float))]),
        ]
        let path = try writeTemporary(graphDefBytes(nodes))
        try expectFailure([path], contains: ["the graph has a cycle: ", "'a'", "'b'"])
    }

    func testConstContentLengthDisagreesWithShape() throws {
        var nodes = smallConvGraph()
        nodes[2] = .const("b", TestTensor(dtype: .float, shape: [3], content: [UInt8](repeating: 0, count: 8)))
        let path = try writeTemporary(graphDefBytes(nodes))
        try expectFailure([path], contains: ["Const node 'b': tensor_content has 8 bytes but shape [3] FLOAT needs 12"])
    }

    func testMissingSignature() throws {
        let dir = try TestPaths.temporaryDirectory()
        let bytes = savedModelBytes(smallConvGraph(), signatures: ["predict": (["x": "x:0"], ["y": "relu:0"])])
        try Data(bytes).write(to: dir.appendingPathComponent("saved_model.pb"))
        try expectFailure([dir.path], contains: ["no signature 'serving_default' (signatures: predict)", dir.path])
        // The signature it has works.
        let out = dir.appendingPathComponent("ok.tflite").path
        let r = try runTool([dir.path, "--signature", "predict", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        // An explicit unknown one on a fixture.
        try expectFailure([TestPaths.savedModel("tiny_conv"), "--signature", "nope"], contains: ["no signature 'nope' (signatures: serving_default)"])
    }

    func testSavedModelWithVariables() throws {
        let dir = try TestPaths.temporaryDirectory()
        var nodes = smallConvGraph()
        nodes[1] = TestNode("w", "VarHandleOp", [], [("dtype", .type(.float)), ("shape", .shape([3, 3, 2, 3]))])
        try Data(savedModelBytes(nodes, signatures: ["serving_default": (["x": "x:0"], ["y": "relu:0"])])).write(to: dir.appendingPathComponent("saved_model.pb"))
        try expectFailure([dir.path], contains: ["the graph has variables (VarHandleOp 'w') but neither an object graph nor a saver_def", "freeze it first"])
    }

    func testSavedModelWithoutServeTag() throws {
        let dir = try TestPaths.temporaryDirectory()
        try Data(savedModelBytes(smallConvGraph(), tags: ["train"], signatures: [:])).write(to: dir.appendingPathComponent("saved_model.pb"))
        try expectFailure([dir.path], contains: ["no meta graph is tagged 'serve'", "[train]"])
    }

    func testSavedModelDirectoryWithoutProtobuf() throws {
        let dir = try TestPaths.temporaryDirectory()
        try expectFailure([dir.path], contains: ["the directory has no saved_model.pb, so it is not a SavedModel"])
        try Data("meta_graphs {}".utf8).write(to: dir.appendingPathComponent("saved_model.pbtxt"))
        try expectFailure([dir.path], contains: ["has saved_model.pbtxt (text format), which is not read"])
    }

    func testNCHW() throws {
        let path = try writeTemporary(graphDefBytes(smallConvGraph(dataFormat: "NCHW")))
        try expectFailure([path], contains: ["Conv2D node 'conv': data_format NCHW is not supported"])
    }

    func testTrainingModeBatchNorm() throws {
        let c = TestTensor.floats([1, 1, 1], [3])
        let nodes = smallConvGraph(extraNodes: [
            .const("gamma", c), .const("beta", c), .const("mean", c), .const("var", c),
            TestNode("bn", "FusedBatchNormV3", ["relu", "gamma", "beta", "mean", "var"], [("T", .type(.float)), ("is_training", .b(true)), ("epsilon", .f(0.001))]),
        ])
        let path = try writeTemporary(graphDefBytes(nodes))
        try expectFailure([path], contains: ["FusedBatchNormV3 node 'bn': is_training=true"])
        // Without the attribute the OpDef default (true) applies.
        var noAttr = nodes
        noAttr[noAttr.count - 1].attrs = [("T", .type(.float))]
        try expectFailure([try writeTemporary(graphDefBytes(noAttr))], contains: ["FusedBatchNormV3 node 'bn': is_training=true"])
    }

    func testBadInputShapes() throws {
        let path = TestPaths.graphDef("tiny_conv")
        try expectFailure([path, "--input", "fingerprint_input:1,x"], contains: ["--input fingerprint_input:1,x: shape '1,x' is not a list of positive sizes"])
        try expectFailure([path, "--input", "fingerprint_input:1,0"], contains: ["shape '1,0' is not a list of positive sizes"])
        try expectFailure([path, "--input", "fingerprint_input:1,1000"], contains: ["Reshape node 'Reshape': cannot reshape [1,1000] (1000 elements) to [-1,49,40,1]"])
    }

    func testMissingOutputAndInputNodes() throws {
        let path = TestPaths.graphDef("tiny_conv")
        try expectFailure([path, "--output", "nope"], contains: ["--output nope: the graph has no node named 'nope'"])
        try expectFailure([path, "--input", "nope"], contains: ["--input nope: the graph has no node named 'nope'"])
    }

    func testEmptyAndGarbageFiles() throws {
        try expectFailure([try writeTemporary([], name: "empty.pb")], contains: ["empty.pb is empty"])
        try expectFailure([try writeTemporary([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f], name: "huge.pb")], contains: ["is not a valid GraphDef protobuf", "claims"])
    }

    func testUnsupportedOpsAreListedOnce() throws {
        let nodes = [
            TestNode.placeholder("x", [1, 4]),
            TestNode("e1", "Erf", ["x"]), TestNode("e2", "Erf", ["e1"]),
            TestNode("c", "Cumsum", ["e2", "x"]),
            TestNode("out", "Softmax", ["c"]),
        ]
        let message = try expectFailure([try writeTemporary(graphDefBytes(nodes))], contains: ["unsupported TensorFlow ops: Erf (e1), Cumsum (c)"])
        XCTAssertFalse(message.contains("e2"), message)
    }

    func testDuplicateNodeNames() throws {
        let nodes = [TestNode.placeholder("x", [1, 4]), TestNode("x", "Relu", ["x"])]
        try expectFailure([try writeTemporary(graphDefBytes(nodes))], contains: ["two nodes are named 'x'"])
    }

    func testRuntimeWeightsAndUnknownPlaceholderShape() throws {
        let nodes = [
            TestNode.placeholder("x", [1, 4]), TestNode.placeholder("w", [4, 2]),
            TestNode("mm", "MatMul", ["x", "w"], [("T", .type(.float))]),
        ]
        try expectFailure([try writeTemporary(graphDefBytes(nodes))], contains: ["MatMul node 'mm': input b ('w') must be constant weights"])
        let unknown = [TestNode.placeholder("x", [1, -1]), TestNode("r", "Relu", ["x"])]
        try expectFailure([try writeTemporary(graphDefBytes(unknown))], contains: ["Placeholder 'x' has shape [1,?] with unknown dimensions: give it as --input x:SHAPE"])
    }

    func testFlagsThatDoNotApply() throws {
        try expectFailure([TestPaths.fixtures.appendingPathComponent("qdq_float_io.tflite").path, "--input", "x"], contains: ["only apply to GraphDef and SavedModel inputs"])
        try expectFailure([TestPaths.graphDef("tiny_conv"), "--signature", "serving_default"], contains: ["--signature: only applies to SavedModel inputs"])
    }
}
