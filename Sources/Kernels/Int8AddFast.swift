import CInt8Kernels

/// int8 ADD / SUB of two same-shape tensors on AVX2 (CInt8Kernels tfr_int8_add_avx2): TFLM's
/// per-element arithmetic (reference_integer_ops/add.h) eight lanes at a time, so the same
/// bytes as BinaryKernel's portable loop. Nil when this machine or these parameters are not
/// handled exactly by the vector code (a right shift beyond 31 bits or a left one — the
/// portable rdbpot leaves x unchanged there —, the multiplier INT32_MIN, a clamp wider than
/// int8); then the portable loop runs.
package struct Int8AddFast {
    private var parameters: tfr_add

    package init?(subtract: Bool, offset1: Int32, offset2: Int32, leftShift: Int32,
                  input1: QuantizedMultiplier, input2: QuantizedMultiplier, output: QuantizedMultiplier,
                  outputZeroPoint: Int32, activation: (Int32, Int32)) {
        guard Int8Kernel.current == .avx2 else { return nil }
        let multipliers = [input1, input2, output]
        guard multipliers.allSatisfy({ $0.multiplier != Int32.min && (-31...0).contains($0.shift) }),
              leftShift <= 22, abs(offset1) <= 255, abs(offset2) <= 255,
              activation.0 >= -128, activation.1 <= 127
        else { return nil }
        parameters = tfr_add(offset1: offset1, offset2: offset2, left_shift: leftShift,
                             multiplier1: input1.multiplier, right_shift1: Int32(-input1.shift),
                             multiplier2: input2.multiplier, right_shift2: Int32(-input2.shift),
                             out_multiplier: output.multiplier, out_right_shift: Int32(-output.shift),
                             out_zp: outputZeroPoint, act_min: activation.0, act_max: activation.1,
                             subtract: subtract ? 1 : 0)
    }

    package func run(_ x: UnsafePointer<Int8>, _ y: UnsafePointer<Int8>, count: Int, output: UnsafeMutablePointer<Int8>) {
        var p = parameters
        tfr_int8_add_avx2(x, y, count, &p, output)
    }
}
