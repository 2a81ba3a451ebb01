import Foundation
import XCTest

@testable import Import
@testable import Support
@testable import TFRewrite

/// WhileUnroller on small hand-built loops: a fixed trip count is unrolled into ordinary ops
/// (with a TensorList of the steps read and written as Keras's RNNs do), a data-dependent one
/// is refused in one line.
final class WhileUnrollingTests: XCTestCase {
    static let int32 = TFDataType.int32.rawValue, float = TFDataType.float.rawValue

    static func intConst(_ name: String, _ values: [Int32], shape: [Int64] = []) -> TFNodeDef {
        TFNodeDef(name: name, op: "Const", attrs: [
            "dtype": .type(int32), "value": .tensor(TFTensor(dtype: int32, shape: TFTensorShape(dims: shape), intVal: values)),
        ])
    }

    static func placeholder(_ name: String, _ dtype: Int32, _ shape: [Int64]) -> TFNodeDef {
        TFNodeDef(name: name, op: "Placeholder", attrs: ["dtype": .type(dtype), "shape": .shape(TFTensorShape(dims: shape))])
    }

    /// cond(t, out, acc, list): t < limit. body: acc' = acc + list[t]; out[t] = acc'; t' = t + 1.
    static func loop(limitFrom limit: TFNodeDef) -> TFGraphDef {
        let cond = TFFunctionDef(
            name: "cond", inputArgs: ["t", "out", "acc", "list"].map { TFArgDef(name: $0) }, outputArgs: [TFArgDef(name: "go")],
            nodes: [limit, TFNodeDef(name: "less", op: "Less", inputs: ["t", "\(limit.name):output:0"])],
            ret: ["go": "less:z:0"])
        let body = TFFunctionDef(
            name: "body", inputArgs: ["t", "out", "acc", "list"].map { TFArgDef(name: $0) },
            outputArgs: ["t2", "out2", "acc2", "list2"].map { TFArgDef(name: $0) },
            nodes: [
                intConst("shape", [-1], shape: [1]),
                TFNodeDef(name: "item", op: "TensorListGetItem", inputs: ["list", "t", "shape:output:0"], attrs: ["element_dtype": .type(float)]),
                TFNodeDef(name: "sum", op: "AddV2", inputs: ["acc", "item:item:0"], attrs: ["T": .type(float)]),
                TFNodeDef(name: "write", op: "TensorListSetItem", inputs: ["out", "t", "sum:z:0"], attrs: ["element_dtype": .type(float)]),
                intConst("one", [1]),
                TFNodeDef(name: "next", op: "AddV2", inputs: ["t", "one:output:0"], attrs: ["T": .type(int32)]),
            ],
            ret: ["t2": "next:z:0", "out2": "write:output_handle:0", "acc2": "sum:z:0", "list2": "list"])
        let nodes = [
            placeholder("x", float, [3, 2]),
            intConst("element_shape", [2], shape: [1]),
            TFNodeDef(name: "steps", op: "TensorListFromTensor", inputs: ["x", "element_shape"], attrs: ["element_dtype": .type(float)]),
            intConst("count", [3]),
            TFNodeDef(name: "reserve", op: "TensorListReserve", inputs: ["element_shape", "count"], attrs: ["element_dtype": .type(float)]),
            intConst("zero", [0]),
            TFNodeDef(name: "acc0", op: "Const", attrs: ["dtype": .type(float), "value": .tensor(TFTensor(dtype: float, shape: TFTensorShape(dims: [2]), floatVal: [0, 0]))]),
            TFNodeDef(name: "loop", op: "While", inputs: ["zero", "reserve", "acc0", "steps"], attrs: ["cond": .func("cond"), "body": .func("body")]),
            TFNodeDef(name: "stack", op: "TensorListStack", inputs: ["loop:1", "element_shape"], attrs: ["element_dtype": .type(float)]),
        ]
        return TFGraphDef(nodes: nodes, functions: [cond, body])
    }

    func testFixedTripCountIsUnrolled() throws {
        let graph = Self.loop(limitFrom: Self.intConst("limit", [3]))
        let flat = try WhileUnroller.unroll(graph, library: graph.functions, path: "m")
        XCTAssertFalse(flat.nodes.contains { $0.op == "While" || $0.op.hasPrefix("TensorList") }, "\(flat.nodes.map(\.op))")
        XCTAssertEqual(flat.nodes.filter { $0.op == "StridedSlice" }.count, 3)
        let model = try GraphDefImporter.importGraph(flat, options: GraphDefImportOptions(
            inputs: [.init(tensor: TFTensorRef(node: "x"), origin: "x")], outputs: [.init(tensor: TFTensorRef(node: "stack"), origin: "stack")]))
        // Running sums of the rows: [1,2], [1+3, 2+4], [1+3+5, 2+4+6].
        XCTAssertEqual(try runFloatModel(model, inputs: [[1, 2, 3, 4, 5, 6]]), [[1, 2, 4, 6, 9, 12]])
    }

    func testDataDependentTripCountIsRefused() throws {
        var graph = Self.loop(limitFrom: Self.intConst("limit", [3]))
        // The limit comes from a run-time input instead of a constant.
        graph.functions[0].inputArgs.append(TFArgDef(name: "limit_in"))
        graph.functions[0].nodes = [TFNodeDef(name: "less", op: "Less", inputs: ["t", "limit_in"])]
        graph.functions[1].inputArgs.append(TFArgDef(name: "limit_in"))
        graph.nodes.insert(Self.placeholder("n", Self.int32, []), at: 0)
        graph.nodes[graph.nodes.firstIndex { $0.op == "While" }!].inputs.append("n")
        XCTAssertThrowsError(try WhileUnroller.unroll(graph, library: graph.functions, path: "m")) { error in
            XCTAssertEqual("\(error)", "SavedModel m: while loop 'loop': whether step 0 runs is not known when the graph is read (only loops over a fixed number of steps are unrolled)")
        }
    }

    func testGraphWithoutLoopsIsUnchanged() throws {
        let graph = TFGraphDef(nodes: [Self.placeholder("x", Self.float, [2]), TFNodeDef(name: "y", op: "Relu", inputs: ["x"])])
        XCTAssertEqual(try WhileUnroller.unroll(graph, library: [], path: "m"), graph)
    }
}
