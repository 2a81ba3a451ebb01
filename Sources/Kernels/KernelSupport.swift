import CFloatKernels
import FlatBuffers
import IR
import Support

/// Shared pieces of the kernels: window geometry, broadcasting, and reading the options of ops
/// the IR keeps opaque.

/// TFLite's padding rules (kernels/padding.h): output size and leading padding.
package enum Window {
    /// `ComputeOutSize`; negative when the filter does not fit (VALID).
    package static func outSize(_ padding: Padding, input: Int, filter: Int, stride: Int, dilation: Int) -> Int {
        let effective = (filter - 1) * dilation + 1
        guard stride > 0 else { return 0 }
        switch padding {
        case .same: return (input + stride - 1) / stride
        case .valid:
            let num = input + stride - effective
            return num >= 0 ? num / stride : -1
        }
    }

    /// `ComputePaddingWithOffset`: the padding before (top/left); the odd pixel goes after.
    package static func padBefore(stride: Int, dilation: Int, input: Int, filter: Int, output: Int) -> Int {
        let effective = (filter - 1) * dilation + 1
        let total = max(0, (output - 1) * stride + effective - input)
        return total / 2
    }
}

/// Numpy-style broadcasting of two shapes (TFLite's NdArrayDescsForElementwiseBroadcast).
package struct Broadcast {
    package let outputShape: [Int]
    /// Strides into each input for every output dimension (0 where the input broadcasts).
    package let strides1: [Int]
    package let strides2: [Int]
    package let isElementwise: Bool

    package init?(_ a: [Int], _ b: [Int]) {
        let rank = max(a.count, b.count)
        let pa = Array(repeating: 1, count: rank - a.count) + a
        let pb = Array(repeating: 1, count: rank - b.count) + b
        var out = [Int](repeating: 1, count: rank)
        for i in 0..<rank {
            if pa[i] == pb[i] { out[i] = pa[i] }
            else if pa[i] == 1 { out[i] = pb[i] }
            else if pb[i] == 1 { out[i] = pa[i] }
            else { return nil }
        }
        func strides(_ s: [Int]) -> [Int] {
            var st = [Int](repeating: 0, count: rank)
            var acc = 1
            for i in stride(from: rank - 1, through: 0, by: -1) {
                st[i] = s[i] == 1 ? 0 : acc
                acc *= s[i]
            }
            return st
        }
        outputShape = out
        strides1 = strides(pa)
        strides2 = strides(pb)
        isElementwise = a == b
    }

    /// Calls `body(outIndex, index1, index2)` for every output element in row-major order.
    @inline(__always)
    package func forEach(_ body: (Int, Int, Int) -> Void) {
        let rank = outputShape.count
        let total = RuntimeTensor.elementCount(outputShape) ?? 0
        if total == 0 { return }
        if isElementwise {
            for i in 0..<total { body(i, i, i) }
            return
        }
        if rank == 0 {
            body(0, 0, 0)
            return
        }
        var index = [Int](repeating: 0, count: rank)
        var i1 = 0, i2 = 0
        let inner = outputShape[rank - 1]
        let s1 = strides1[rank - 1], s2 = strides2[rank - 1]
        var o = 0
        while o < total {
            var a = i1, b = i2
            for _ in 0..<inner {
                body(o, a, b)
                o += 1
                a += s1
                b += s2
            }
            // Advance the outer dimensions.
            var d = rank - 2
            while d >= 0 {
                index[d] += 1
                i1 += strides1[d]
                i2 += strides2[d]
                if index[d] < outputShape[d] { break }
                i1 -= strides1[d] * outputShape[d]
                i2 -= strides2[d] * outputShape[d]
                index[d] = 0
                d -= 1
            }
        }
    }
}


package func product(_ s: ArraySlice<Int>) -> Int { s.reduce(1, *) }
package func product(_ s: [Int]) -> Int { s.reduce(1, *) }

extension OpaqueOptions {
    /// Bytes of scalar field `id`, nil when absent (schema default applies) or out of range.
    private func fieldBytes(_ id: Int, size: Int) -> ArraySlice<UInt8>? {
        guard id >= 0, id < vtable.count else { return nil }
        let offset = Int(vtable[id])
        guard offset >= 4 else { return nil }
        let start = offset - 4  // `inline` starts after the table's 4-byte soffset
        guard start + size <= inline.count else { return nil }
        return inline[start..<(start + size)]
    }

    package func float32(_ id: Int, default d: Float) -> Float {
        guard let b = fieldBytes(id, size: 4) else { return d }
        var bits: UInt32 = 0
        for (k, byte) in b.enumerated() { bits |= UInt32(byte) << (8 * UInt32(k)) }
        return Float(bitPattern: bits)
    }

    package func int32(_ id: Int, default d: Int32) -> Int32 {
        guard let b = fieldBytes(id, size: 4) else { return d }
        var bits: UInt32 = 0
        for (k, byte) in b.enumerated() { bits |= UInt32(byte) << (8 * UInt32(k)) }
        return Int32(bitPattern: bits)
    }

    package func int8(_ id: Int, default d: Int8) -> Int8 {
        guard let b = fieldBytes(id, size: 1) else { return d }
        return Int8(bitPattern: b.first!)
    }

    /// DIV's fused activation: DivOptions field 0, NONE when absent or when the op has no
    /// options table; nil for a value the schema does not define.
    package static func divActivation(_ options: OpaqueOptions?) -> ActivationFunction? {
        ActivationFunction(rawValue: options?.int8(0, default: 0) ?? 0)
    }
}

/// Names a dtype list for messages: "FLOAT32 or INT8".
package func dtypeList(_ types: [DType]) -> String {
    types.map(\.name).joined(separator: " or ")
}

/// The scales an int8 kernel derives multipliers from must be positive and finite; anything
/// else would make the fixed-point setup meaningless (TFLM would assert).
package func requirePositiveScales(_ slots: Slot...) throws {
    for s in slots {
        for scale in s.scales.isEmpty ? [s.scale] : s.scales where !(scale > 0 && scale.isFinite) {
            throw Unsupported("tensor \(s.name) has quantization scale \(scale); scales must be positive and finite")
        }
    }
}
