import FlatBuffers
import IR
import Ops
import Support

/// Which ops get int16 activations (int16x8: int16 activations, int8 weights, int64 biases).
public enum ActivationPrecision: Sendable, Equatable {
    /// Everything int8 (the default).
    case int8
    /// Every quantized op int16x8; an op without an int16 kernel in TFLM is an error.
    case int16x8
    /// Only these ops (indices of subgraph 0's ops in the model given to the quantizer) are
    /// int16x8; the rest are int8, with QUANTIZE ops requantizing between the two.
    case mixed(int16Ops: Set<Int>)
}

/// The int16x8 parameters (TFLite's quantization_spec.md, "int16 activations"; TFLM's kernels).
package enum Int16x8 {
    /// Activations: symmetric, zero point 0, scale max|x| / 32767 (TF's calibrator for int16).
    package static func activation(_ r: ObservedRange) -> AffineParameters {
        let maxAbs = max(abs(r.min.isFinite ? r.min : 0), abs(r.max.isFinite ? r.max : 0))
        return AffineParameters(scale: AffineParameters.symmetricScale(maxAbs: maxAbs, qmax: 32767), zeroPoint: 0)
    }

    /// SOFTMAX, LOGISTIC and TANH int16 outputs: scale 1/32768, zero point 0 (TFLM
    /// softmax_common.cc and LiteRT activations.cc check exactly this).
    package static let fixedOutput = AffineParameters(scale: 1.0 / 32768, zeroPoint: 0)

    /// The real interval int16 codes cover with these parameters.
    package static func representableRange(_ p: AffineParameters) -> ClosedRange<Float> {
        p.dequantize(-32768)...p.dequantize(32767)
    }

    /// A constant activation operand (ADD with a constant) in int16 with the given parameters.
    package static func constant(_ values: [Float], shape: [Int32], parameters p: AffineParameters) -> ConstantTensor {
        let q = values.map { Int16(p.quantize($0, qmin: -32768, qmax: 32767)) }
        return ConstantTensor(.int16, shape: shape, values: q, quantization: p.quantization)
    }

    /// An int64 bias with scale[c] = inputScale · weightScales[c], zero point 0 (TFLM's int16
    /// conv, depthwise and fully-connected kernels accumulate in int64 and take an int64 bias).
    package static func bias(_ values: [Float], shape: [Int32], inputScale: Float, weightScales: [Float]) -> ConstantTensor {
        let perChannel = weightScales.count > 1
        let scales: [Float] = weightScales.map { Float(Double(inputScale) * Double($0)) }
        var q = [Int64](repeating: 0, count: values.count)
        // TFLM's int64 MultiplyByQuantizedMultiplier assumes |acc| < 2^47; clamp there.
        let limit = Double(Int64(1) << 47)
        for (i, v) in values.enumerated() {
            let s = Double(scales[perChannel ? min(i, scales.count - 1) : 0])
            guard v.isFinite, s > 0 else { continue }
            q[i] = Int64(min(max((Double(v) / s).rounded(.toNearestOrAwayFromZero), -limit), limit - 1))
        }
        let quantization = Quantization(scales: scales, zeroPoints: Array(repeating: 0, count: scales.count), axis: 0)
        return ConstantTensor(.int64, shape: shape, values: q, quantization: quantization)
    }
}

extension ActivationPrecision {
    /// Whether op `i` of subgraph 0 is int16x8.
    package func isInt16(op i: Int) -> Bool {
        switch self {
        case .int8: false
        case .int16x8: true
        case .mixed(let ops): ops.contains(i)
        }
    }

    /// Values made by the rewrite itself (QUANTIZE copies of float values, constant operands)
    /// start int16 only when everything is; mixed graphs requantize them at the boundaries.
    package var defaultIsInt16: Bool { self == .int16x8 }
}

extension Int8Quantizer.Rewrite {
    /// Ops that should be int16 but have no int16 kernel (in TFLM, or modelled by tfrewrite's
    /// interpreter): a clear error naming them.
    package func checkInt16Kernels() throws {
        let missing = specs.keys.sorted().filter { options.activations.isInt16(op: $0) && !specs[$0]!.int16 }
        guard !missing.isEmpty else { return }
        let names = missing.prefix(5).map { graph.ops[$0].label(OpID($0)) }.joined(separator: ", ")
        let more = missing.count > 5 ? " and \(missing.count - 5) more" : ""
        throw QuantizeError.badOption("int16x8: no int16 kernel for \(names)\(more) (TFLM has none, or tfrewrite does not model it yet); use --quantize int8, or --quantize int8 --max-error E to keep such ops int8")
    }

    /// Marks the outputs of int16 ops, and the graph inputs read only by int16 ops, as int16.
    package mutating func markInt16Values() {
        guard options.activations != .int8 else { return }
        let g = graph
        for (i, _) in specs where options.activations.isInt16(op: i) {
            for v in g.ops[i].outputs where !v.isAbsent { int16Values.insert(v.raw) }
        }
        for v in g.inputs where isInt8.contains(v.raw) {
            let readers = g.ops.indices.filter { !g.ops[$0].isErased && g.ops[$0].inputs.contains(v) }
            if !readers.isEmpty && readers.allSatisfy({ specs[$0] != nil && options.activations.isInt16(op: $0) }) {
                int16Values.insert(v.raw)
            }
        }
    }

    /// Gives a value made by the rewrite (a QUANTIZE copy, a constant placeholder) its precision.
    package mutating func markNewValue(_ id: ValueID, like source: ValueID? = nil) {
        let int16 = source.map { int16Values.contains($0.raw) } ?? options.activations.defaultIsInt16
        if int16 { int16Values.insert(id.raw) }
    }

    /// In a mixed graph, every activation operand of an op must have the op's precision: a
    /// constant placeholder takes it, a runtime value is requantized by a QUANTIZE (int8 ↔ int16,
    /// which TFLM's quantize.cc supports). One requantized copy per value and precision.
    package mutating func insertPrecisionBoundaries() {
        guard case .mixed = options.activations else { return }
        var copies: [Int32: ValueID] = [:]
        for i in specs.keys.sorted() {
            let spec = specs[i]!
            let wantInt16 = options.activations.isInt16(op: i)
            for (k, v) in graph.ops[i].inputs.enumerated() where spec.role(k) == .activation && !v.isAbsent && isInt8.contains(v.raw) {
                if int16Values.contains(v.raw) == wantInt16 { continue }
                if constantSource[v.raw] != nil {
                    if wantInt16 { int16Values.insert(v.raw) } else { int16Values.remove(v.raw) }
                    continue
                }
                if let c = copies[v.raw] { graph.ops[i].inputs[k] = c; continue }
                var r = graph[v]
                r.name = Self.derivedName(r.name, wantInt16 ? "int16" : "int8")
                r.provenance = graph[v].provenance ?? graph[v].name
                let id = graph.addValue(r)
                isInt8.insert(id.raw)
                if wantInt16 { int16Values.insert(id.raw) }
                rangeOf[id.raw] = rangeOf[v.raw]
                addOp(.quantize, input: v, output: id, provenance: r.provenance!)
                summary.insertedQuantize += 1
                copies[v.raw] = id
                graph.ops[i].inputs[k] = id
            }
        }
    }

    /// Fixed output parameters in the value's precision.
    package func fixedParameters(_ p: AffineParameters, of v: Int32) -> AffineParameters {
        int16Values.contains(v) ? Int16x8.fixedOutput : p
    }

    /// Parameters of an int16 value from its range.
    package func int16Parameters(_ r: ObservedRange) -> AffineParameters { Int16x8.activation(r) }

    /// int16 ADD/SUB take the general rescaling path: pot_scale_int16 false, as TF's converter
    /// writes it (LiteRT's add.cc would otherwise require power-of-two scales; TFLM ignores it).
    package mutating func clearPowerOfTwoScaleFlags() {
        for i in specs.keys.sorted() where options.activations.isInt16(op: i) {
            switch graph.ops[i].kind {
            case .add(var a): a.potScaleInt16 = false; graph.ops[i].kind = .add(a)
            case .sub(var a): a.potScaleInt16 = false; graph.ops[i].kind = .sub(a)
            default: break
            }
        }
    }
}
