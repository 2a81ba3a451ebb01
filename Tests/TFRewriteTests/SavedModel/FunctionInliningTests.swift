import Foundation
import XCTest

@testable import TFRewrite
@testable import Import

/// Inlining of PartitionedCall / StatefulPartitionedCall bodies: renaming, nesting,
/// "node:out_arg:idx" inputs and hostile libraries.
final class FunctionInliningTests: XCTestCase {
    func node(_ name: String, _ op: String, _ inputs: [String] = [], f: String? = nil) -> TFNodeDef {
        TFNodeDef(name: name, op: op, inputs: inputs, attrs: f.map { ["f": .func($0)] } ?? [:])
    }

    func testNestedCallsAreRenamedAndWired() throws {
        let inner = TFFunctionDef(
            name: "inner", inputArgs: [TFArgDef(name: "a")], outputArgs: [TFArgDef(name: "y")],
            nodes: [node("r", "Relu", ["a"])], ret: ["y": "r:activations:0"])
        let outer = TFFunctionDef(
            name: "outer", inputArgs: [TFArgDef(name: "x"), TFArgDef(name: "w")], outputArgs: [TFArgDef(name: "out")],
            nodes: [
                node("mm", "MatMul", ["x", "w"]),
                node("bn", "FusedBatchNormV3", ["mm:product:0"]),
                node("call", "PartitionedCall", ["bn:batch_variance:0", "^mm"], f: "inner"),
            ],
            ret: ["out": "call:output:0"])
        let graph = TFGraphDef(nodes: [node("in", "Placeholder"), node("w", "Const"), node("C", "StatefulPartitionedCall", ["in", "w"], f: "outer")], functions: [inner, outer])
        let flat = try FunctionInliner.inline(graph, path: "m")
        let byName = Dictionary(uniqueKeysWithValues: flat.nodes.map { ($0.name, $0) })
        XCTAssertEqual(byName["C/mm"]?.inputs, ["in", "w"])
        XCTAssertEqual(byName["C/bn"]?.inputs, ["C/mm"])
        XCTAssertEqual(byName["C/call/r"]?.inputs, ["C/bn:2"], "batch_variance is FusedBatchNormV3's output 2")
        XCTAssertEqual(byName["C/call"]?.op, "IdentityN")
        XCTAssertEqual(byName["C/call"]?.inputs, ["C/call/r", "^C/mm"])
        XCTAssertEqual(byName["C"]?.inputs, ["C/call"])
        XCTAssertTrue(flat.functions.isEmpty)
    }

    func testRecursiveLibraryIsRefused() {
        let f = TFFunctionDef(name: "f", inputArgs: [TFArgDef(name: "a")], outputArgs: [TFArgDef(name: "y")], nodes: [node("c", "PartitionedCall", ["a"], f: "f")], ret: ["y": "c:output:0"])
        let graph = TFGraphDef(nodes: [node("x", "Placeholder"), node("C", "PartitionedCall", ["x"], f: "f")], functions: [f])
        XCTAssertThrowsError(try FunctionInliner.inline(graph, path: "m")) { error in
            XCTAssertTrue("\(error)".contains("function calls nest deeper than 64 levels"), "\(error)")
        }
    }

    func testExponentialLibraryIsLimitedByTheMemoryBudget() {
        // f_k calls f_{k-1} twice: 2^40 nodes.
        var functions = [TFFunctionDef(name: "f0", inputArgs: [TFArgDef(name: "a")], outputArgs: [TFArgDef(name: "y")], nodes: [node("r", "Relu", ["a"])], ret: ["y": "r:activations:0"])]
        for k in 1...40 {
            functions.append(
                TFFunctionDef(
                    name: "f\(k)", inputArgs: [TFArgDef(name: "a")], outputArgs: [TFArgDef(name: "y")],
                    nodes: [node("c1", "PartitionedCall", ["a"], f: "f\(k - 1)"), node("c2", "PartitionedCall", ["c1:output:0"], f: "f\(k - 1)")],
                    ret: ["y": "c2:output:0"]))
        }
        let graph = TFGraphDef(nodes: [node("x", "Placeholder"), node("C", "PartitionedCall", ["x"], f: "f40")], functions: functions)
        let saved = MemoryBudget.bytes
        MemoryBudget.bytes = 64 << 20
        defer { MemoryBudget.bytes = saved }
        XCTAssertThrowsError(try FunctionInliner.inline(graph, path: "m")) { error in
            XCTAssertTrue("\(error)".contains("over the memory budget"), "\(error)")
        }
    }

    func testBadBodyInputsAreNamed() {
        let f = TFFunctionDef(name: "f", inputArgs: [TFArgDef(name: "a")], outputArgs: [TFArgDef(name: "y")], nodes: [node("r", "Relu", ["nope:y:0"])], ret: ["y": "r:activations:0"])
        let graph = TFGraphDef(nodes: [node("x", "Placeholder"), node("C", "PartitionedCall", ["x"], f: "f")], functions: [f])
        XCTAssertThrowsError(try FunctionInliner.inline(graph, path: "m")) { error in
            XCTAssertEqual("\(error)", "SavedModel m: function 'f', node 'r': input 'nope:y:0' reads node 'nope', which the function does not have")
        }
        let wrongArity = TFGraphDef(nodes: [node("x", "Placeholder"), node("C", "PartitionedCall", ["x", "x"], f: "f")], functions: [f])
        XCTAssertThrowsError(try FunctionInliner.inline(wrongArity, path: "m")) { error in
            XCTAssertTrue("\(error)".contains("passes 2 inputs to function 'f', which takes 1"), "\(error)")
        }
    }

    func testObjectPathsEscapeNamesLikeTensorFlow() {
        let graph = TFObjectGraph(nodes: [
            .init(children: [(1, "layer.with/dots"), (2, "b")], variableName: nil),
            .init(children: [(2, "again")], variableName: nil),
            .init(children: [], variableName: "v"),
        ])
        XCTAssertEqual(graph.objectPaths(), [0: "", 1: "layer..with.Sdots", 2: "b"])
    }
}
