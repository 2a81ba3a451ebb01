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

    /// Bytes from hexadecimal text (whitespace ignored), for byte images copied into tests.
    static func bytes(hex: String) -> [UInt8] {
        let clean = Array(hex.filter { !$0.isWhitespace })
        return stride(from: 0, to: clean.count - 1, by: 2).map { UInt8(String(clean[$0...$0 + 1]), radix: 16)! }
    }

    /// Random byte flips (1–`flips` per copy) in `bytes`: a copy that imports must load and run
    /// zeros, or throw, never trap. Returns how many copies ran.
    static func runCorruptedCopies(of bytes: [UInt8], seed: UInt64, count: Int, flips: Int) -> Int {
        var rng = SplitMix64(seed: seed)
        var ran = 0
        for _ in 0..<count {
            var b = bytes
            for _ in 0..<(1 + Int(rng.next() % UInt64(flips))) {
                b[Int(rng.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            guard let model = try? TFLiteImporter.decode(ByteStorage(copying: b)),
                  let interp = try? Interpreter(model: model) else { continue }
            let inputs = interp.inputs.compactMap { RuntimeTensor.zeros($0.dtype, shape: $0.shape) }
            guard inputs.count == interp.inputs.count else { continue }
            _ = try? interp.run(inputs)
            ran += 1
        }
        return ran
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
