import Foundation
import XCTest

@testable import TFRewrite

/// Builds small models for the quantizer tests; values are numbered in the order they are made.
struct QuantGraphBuilder {
    var model: Model

    init() {
        model = Model(description: "quantize test")
        model.subgraphs = [Graph(name: "main")]
    }

    var graph: Graph {
        get { model.subgraphs[0] }
        set { model.subgraphs[0] = newValue }
    }

    @discardableResult
    mutating func input(_ name: String, _ type: ElementType, _ shape: [Int32]) -> ValueID {
        let id = graph.addValue(Value(name: name, type: type, shape: shape))
        graph.inputs.append(id)
        return id
    }

    @discardableResult
    mutating func value(_ name: String, _ type: ElementType, _ shape: [Int32]) -> ValueID {
        graph.addValue(Value(name: name, type: type, shape: shape))
    }

    @discardableResult
    mutating func constant(_ name: String, _ t: ConstantTensor) -> ValueID {
        model.addConstant(t, name: name)
    }

    @discardableResult
    mutating func ints(_ name: String, _ values: [Int32]) -> ValueID {
        constant(name, ConstantTensor(.int32, shape: [Int32(values.count)], values: values))
    }

    mutating func op(_ kind: OpKind, _ inputs: [ValueID], _ outputs: [ValueID]) {
        graph.addOp(Op(kind: kind, inputs: inputs, outputs: outputs))
    }

    mutating func output(_ v: ValueID) { graph.outputs.append(v) }
}

let qf32 = ElementType(.float32)
func qi8(_ scale: Float, _ zp: Int64) -> ElementType { ElementType(.int8, quantization: .perTensor(scale: scale, zeroPoint: zp)) }

