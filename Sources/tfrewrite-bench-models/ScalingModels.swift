import FlatBuffers
import Foundation
import TFRewrite

// Synthetic models for the scaling benchmark (scripts/bench.d/scaling.sh): the same small
// layer repeated N times, so time per op shows whether a tool's cost grows with the model.

/// A .tflite chain of `count` ops on a [1, 16] float32 tensor, alternating ADD (with its own
/// small constant) and RELU: x → ADD(x, c0) → RELU → ADD(·, c2) → RELU → …
func writeAddReluChain(count: Int, to path: String) throws {
    let width: Int32 = 16
    var model = Model(description: "tfrewrite benchmark: ADD/RELU chain of \(count) ops")
    model.subgraphs = [Graph(name: "main")]
    var current = model.subgraphs[0].addValue(Value(name: "x", type: ElementType(.float32), shape: [1, width]))
    model.subgraphs[0].inputs = [current]
    for i in 0..<count {
        let next = model.subgraphs[0].addValue(Value(name: "t\(i)", type: ElementType(.float32), shape: [1, width]))
        if i % 2 == 0 {
            let constant = model.addConstant(Value(name: "c\(i)", type: ElementType(.float32), shape: [1, width]), data: ByteSlice(smallWeights(count: Int(width), seed: UInt32(i))))
            model.subgraphs[0].addOp(Op(kind: .add(ArithmeticAttributes()), inputs: [current, constant], outputs: [next]))
        } else {
            model.subgraphs[0].addOp(Op(kind: .relu, inputs: [current], outputs: [next]))
        }
        current = next
    }
    model.subgraphs[0].outputs = [current]
    try TFLiteExporter.write(model, to: path)
}

/// A .tflite whose entry subgraph is one RELU and which carries `count - 1` more subgraphs,
/// each its own small ADD → RELU graph (as a model with many control-flow bodies would).
func writeManySubgraphs(count: Int, to path: String) throws {
    var model = Model(description: "tfrewrite benchmark: \(count) subgraphs")
    for s in 0..<count {
        model.subgraphs.append(Graph(name: "g\(s)"))
        let x = model.subgraphs[s].addValue(Value(name: "x", type: ElementType(.float32), shape: [1, 8]))
        let y = model.subgraphs[s].addValue(Value(name: "y", type: ElementType(.float32), shape: [1, 8]))
        model.subgraphs[s].inputs = [x]
        model.subgraphs[s].outputs = [y]
        if s == 0 {
            model.subgraphs[s].addOp(Op(kind: .relu, inputs: [x], outputs: [y]))
        } else {
            let c = model.addConstant(Value(name: "c", type: ElementType(.float32), shape: [1, 8]), data: ByteSlice(smallWeights(count: 8, seed: UInt32(s))), in: s)
            let t = model.subgraphs[s].addValue(Value(name: "t", type: ElementType(.float32), shape: [1, 8]))
            model.subgraphs[s].addOp(Op(kind: .add(ArithmeticAttributes()), inputs: [x, c], outputs: [t]))
            model.subgraphs[s].addOp(Op(kind: .relu, inputs: [t], outputs: [y]))
        }
    }
    try TFLiteExporter.write(model, to: path)
}

/// A frozen GraphDef: Placeholder "x" [1, 16] float, then `count` Relu nodes in a chain.
/// Encoded by hand (tensorflow/core/framework/graph.proto, node_def.proto, attr_value.proto).
func writeReluGraphDef(count: Int, to path: String) throws {
    var graph = ProtoWriter()
    graph.message(1, node(name: "x", op: "Placeholder", inputs: [], attributes: [
        ("dtype", ProtoWriter.varint(6, 1)),  // AttrValue.type = DT_FLOAT
        ("shape", ProtoWriter.message(7, shapeProto([1, 16]))),  // AttrValue.shape
    ]))
    var previous = "x"
    for i in 0..<count {
        let name = "relu_\(i)"
        graph.message(1, node(name: name, op: "Relu", inputs: [previous], attributes: [("T", ProtoWriter.varint(6, 1))]))
        previous = name
    }
    try Data(graph.bytes).write(to: URL(fileURLWithPath: path))
}

private func node(name: String, op: String, inputs: [String], attributes: [(String, ProtoWriter)]) -> ProtoWriter {
    var n = ProtoWriter()
    n.string(1, name)  // NodeDef.name
    n.string(2, op)  // NodeDef.op
    for input in inputs { n.string(3, input) }  // NodeDef.input
    for (key, value) in attributes {
        var entry = ProtoWriter()  // map<string, AttrValue> attr = 5
        entry.string(1, key)
        entry.message(2, value)
        n.message(5, entry)
    }
    return n
}

private func shapeProto(_ dims: [Int]) -> ProtoWriter {
    var shape = ProtoWriter()
    for d in dims { shape.message(2, ProtoWriter.varint(1, UInt64(d))) }  // TensorShapeProto.dim.size
    return shape
}

/// The few protobuf wire-format pieces the GraphDef above needs.
private struct ProtoWriter {
    var bytes: [UInt8] = []

    private mutating func rawVarint(_ v: UInt64) {
        var v = v
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }
    mutating func varint(_ field: Int, _ v: UInt64) {
        rawVarint(UInt64(field << 3))
        rawVarint(v)
    }
    mutating func bytesField(_ field: Int, _ payload: [UInt8]) {
        rawVarint(UInt64(field << 3 | 2))
        rawVarint(UInt64(payload.count))
        bytes += payload
    }
    mutating func string(_ field: Int, _ s: String) { bytesField(field, Array(s.utf8)) }
    mutating func message(_ field: Int, _ m: ProtoWriter) { bytesField(field, m.bytes) }

    /// A message holding one varint field.
    static func varint(_ field: Int, _ v: UInt64) -> ProtoWriter {
        var w = ProtoWriter()
        w.varint(field, v)
        return w
    }
    /// A message holding one embedded message.
    static func message(_ field: Int, _ m: ProtoWriter) -> ProtoWriter {
        var w = ProtoWriter()
        w.message(field, m)
        return w
    }
}

/// Deterministic small float32 values (little-endian bytes) in about [-0.05, 0.05].
func smallWeights(count: Int, seed: UInt32) -> [UInt8] {
    var state = seed &+ 12345
    var bytes = [UInt8](repeating: 0, count: count * 4)
    bytes.withUnsafeMutableBytes { raw in
        let f = raw.bindMemory(to: Float.self)
        for i in 0..<count {
            state = state &* 1_664_525 &+ 1_013_904_223
            f[i] = Float(Int32(bitPattern: state >> 8) - 0x80_0000) / Float(0x80_0000) * 0.05
        }
    }
    return bytes
}
