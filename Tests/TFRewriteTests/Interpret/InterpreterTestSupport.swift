import FlatBuffers
import Foundation
import XCTest

@testable import TFRewrite

/// Paths and small builders shared by the interpreter tests.
enum InterpreterTestSupport {
    /// The repository root (this file is Tests/TFRewriteTests/Interpret/…).
    static let repoRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let fixtures = repoRoot.appendingPathComponent("Fixtures")
    static let corpus = repoRoot.deletingLastPathComponent().appendingPathComponent("shared/models/tflite")

    /// A one-subgraph model builder: values, constants (little-endian bytes) and ops.
    struct GraphBuilder {
        var graph = Graph(name: "main")
        var buffers: [Buffer] = [.empty]

        @discardableResult
        mutating func value(_ name: String, _ dtype: DType, _ shape: [Int32], q: Quantization? = nil, signature: [Int32]? = nil) -> ValueID {
            graph.addValue(Value(name: name, type: ElementType(dtype, quantization: q), shape: shape, shapeSignature: signature))
        }

        mutating func constant(_ name: String, _ dtype: DType, _ shape: [Int32], bytes: [UInt8], q: Quantization? = nil) -> ValueID {
            buffers.append(Buffer(data: ByteSlice(bytes)))
            var v = Value(name: name, type: ElementType(dtype, quantization: q), shape: shape)
            v.buffer = BufferID(buffers.count - 1)
            return graph.addValue(v)
        }

        mutating func floats(_ name: String, _ shape: [Int32], _ values: [Float]) -> ValueID {
            constant(name, .float32, shape, bytes: values.flatMap { withUnsafeBytes(of: $0.bitPattern.littleEndian, Array.init) })
        }

        mutating func int32s(_ name: String, _ shape: [Int32], _ values: [Int32]) -> ValueID {
            constant(name, .int32, shape, bytes: values.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) })
        }

        mutating func int8s(_ name: String, _ shape: [Int32], _ values: [Int8], q: Quantization? = nil) -> ValueID {
            constant(name, .int8, shape, bytes: values.map { UInt8(bitPattern: $0) }, q: q)
        }

        mutating func op(_ kind: OpKind, _ inputs: [ValueID], _ outputs: [ValueID]) {
            graph.addOp(Op(kind: kind, inputs: inputs, outputs: outputs))
        }

        func model(inputs: [ValueID], outputs: [ValueID]) -> Model {
            var g = graph
            g.inputs = inputs
            g.outputs = outputs
            return Model(subgraphs: [g], buffers: buffers)
        }
    }

    static func load(_ relative: String) throws -> Model {
        try TFLiteImporter.load(path: fixtures.appendingPathComponent(relative).path)
    }

    static func npy(_ relative: String) throws -> NpyArray {
        try Npy.read(path: fixtures.appendingPathComponent(relative).path)
    }

    /// Splits an array whose axis 0 indexes samples into per-sample tensors.
    static func samples(_ a: NpyArray) -> [RuntimeTensor] {
        guard let n = a.shape.first else { return [] }
        let per = Array(a.shape.dropFirst())
        let bytes = per.reduce(1, *) * a.dtype.itemSize
        return (0..<n).compactMap { s in
            NpyArray(dtype: a.dtype, shape: per, data: Array(a.data[(s * bytes)..<((s + 1) * bytes)])).tensor()
        }
    }
}
