import FlatBuffers
import Foundation
import XCTest

@testable import TFRewrite

/// Tiny one-op models for the op-version and lint tests.
struct TensorSpec {
    var dtype: DType
    var shape: [Int32]
    var quantization: Quantization?
    var constant: Bool = false

    static func act(_ t: DType, _ shape: [Int32], q: Quantization? = nil) -> TensorSpec { TensorSpec(dtype: t, shape: shape, quantization: q) }
    static func const(_ t: DType, _ shape: [Int32], q: Quantization? = nil) -> TensorSpec { TensorSpec(dtype: t, shape: shape, quantization: q, constant: true) }
    /// An int8 activation with per-tensor parameters.
    static func i8(_ shape: [Int32], scale: Float = 0.1, zp: Int64 = 0) -> TensorSpec { .act(.int8, shape, q: .perTensor(scale: scale, zeroPoint: zp)) }
    /// Constant int8 weights, per-tensor or with one scale per entry of `axis`.
    static func weights(_ shape: [Int32], _ t: DType = .int8, perChannelAxis axis: Int? = nil) -> TensorSpec {
        if let axis {
            let n = Int(shape[axis])
            return .const(t, shape, q: Quantization(scales: Array(repeating: 0.01, count: n), zeroPoints: Array(repeating: 0, count: n), axis: Int32(axis)))
        }
        return .const(t, shape, q: .perTensor(scale: 0.01, zeroPoint: 0))
    }
}

/// A model with one op; `nil` inputs are absent (−1). Constants are zero-filled.
func oneOpModel(_ kind: OpKind, version: Int32 = 1, inputs: [TensorSpec?], outputs: [TensorSpec]) -> Model {
    var m = Model(description: "one op")
    m.subgraphs = [Graph(name: "main")]
    var ids: [ValueID] = []
    for (k, spec) in inputs.enumerated() {
        guard let spec else { ids.append(.absent); continue }
        let v = Value(name: "in\(k)", type: ElementType(spec.dtype, quantization: spec.quantization), shape: spec.shape)
        if spec.constant {
            let n = (Value.elementCount(spec.shape) ?? 0) * (spec.dtype.byteSize ?? 1)
            ids.append(m.addConstant(v, data: ByteSlice([UInt8](repeating: 0, count: max(n, 1)))))
        } else {
            let id = m.subgraphs[0].addValue(v)
            m.subgraphs[0].inputs.append(id)
            ids.append(id)
        }
    }
    var outs: [ValueID] = []
    for (k, spec) in outputs.enumerated() {
        outs.append(m.subgraphs[0].addValue(Value(name: "out\(k)", type: ElementType(spec.dtype, quantization: spec.quantization), shape: spec.shape)))
    }
    m.subgraphs[0].outputs = outs
    m.subgraphs[0].addOp(Op(kind: kind, version: version, inputs: ids, outputs: outs))
    return m
}

/// The minimum version of the only op of a model.
func minimumVersion(_ m: Model) -> MinimumVersion? {
    OpVersions.minimum(m.subgraphs[0].ops[0], in: m.subgraphs[0], model: m)
}

let convAttrs = Conv2DAttributes(padding: .same, strideW: 1, strideH: 1)
let dwAttrs = DepthwiseConv2DAttributes(padding: .same, strideW: 1, strideH: 1, depthMultiplier: 1)

/// Writes `text` to a fresh temporary folder and returns the file's path.
func writeTemporary(_ text: String, name: String = "rules.yaml", in dir: URL? = nil) throws -> String {
    let d = try dir ?? TestPaths.temporaryDirectory()
    let url = d.appendingPathComponent(name)
    try text.write(to: url, atomically: true, encoding: .utf8)
    return url.path
}

/// The built CLI next to the test bundle, or skip (CLI tests need `swift build` in the same scratch path).
func requireTool() throws {
    guard FileManager.default.isExecutableFile(atPath: TestPaths.executable.path) else {
        throw XCTSkip("tfrewrite executable not found at \(TestPaths.executable.path): skipped")
    }
}
