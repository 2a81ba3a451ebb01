import CFloatKernels
import FlatBuffers
import IR
import Support
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The integer arithmetic of TFLite's quantized reference kernels, reproduced bit for bit.
///
/// Sources of the rules (restated, not copied): gemmlowp `fixedpoint.h` (the Q-format helpers
/// and the exp / logistic / tanh / reciprocal approximations), tflite-micro
/// `kernels/internal/common.{h,cc}` (MultiplyByQuantizedMultiplier, double-rounding build, which
/// is what the TFLM reference kernels use unless TFLITE_SINGLE_ROUNDING is defined) and
/// `quantization_util.cc` (QuantizeMultiplier, PreprocessSoftmaxScaling, CalculateInputRadius).
/// All additions that may overflow wrap, as the C++ code does in practice.
package enum FixedPoint {
    /// `SaturatingRoundingDoublingHighMul`: round(a·b / 2^31), saturating the one overflow case.
    @inline(__always)
    package static func srdhm(_ a: Int32, _ b: Int32) -> Int32 {
        if a == b && a == Int32.min { return Int32.max }
        let ab = Int64(a) &* Int64(b)
        let nudge: Int64 = ab >= 0 ? (1 << 30) : (1 - (1 << 30))
        // C++ integer division truncates toward zero: add 2^31 − 1 to a negative numerator
        // before the arithmetic shift to get the same quotient.
        let n = ab &+ nudge
        let q = (n &+ (n < 0 ? (1 << 31) - 1 : 0)) >> 31
        return Int32(truncatingIfNeeded: q)
    }

    /// `RoundingDivideByPOT`: x / 2^exponent rounded half away from zero. `exponent` in 0...31.
    @inline(__always)
    package static func rdbpot(_ x: Int32, _ exponent: Int) -> Int32 {
        if exponent <= 0 { return x }
        if exponent >= 32 { return 0 }  // callers never ask for this; keeps the shift defined
        let mask = Int32(truncatingIfNeeded: (Int64(1) << exponent) - 1)
        let remainder = x & mask
        let threshold = (mask >> 1) + (x < 0 ? 1 : 0)
        return (x >> Int32(exponent)) &+ (remainder > threshold ? 1 : 0)
    }

    /// `MultiplyByQuantizedMultiplier(int32)`, double rounding.
    @inline(__always)
    package static func multiply(_ x: Int32, _ m: QuantizedMultiplier) -> Int32 {
        let leftShift = m.shift > 0 ? m.shift : 0
        let rightShift = m.shift > 0 ? 0 : -m.shift
        return rdbpot(srdhm(x &* (Int32(1) &<< Int32(leftShift)), m.multiplier), rightShift)
    }

    /// `MultiplyByQuantizedMultiplierSmallerThanOneExp`: shift ≤ 0.
    @inline(__always)
    package static func multiplySmallerThanOne(_ x: Int32, _ m: QuantizedMultiplier) -> Int32 {
        rdbpot(srdhm(x, m.multiplier), -m.shift)
    }

    /// `MultiplyByQuantizedMultiplierGreaterThanOne`: shift ≥ 0.
    @inline(__always)
    package static func multiplyGreaterThanOne(_ x: Int32, _ m: QuantizedMultiplier) -> Int32 {
        srdhm(x &* (Int32(1) &<< Int32(m.shift)), m.multiplier)
    }

    /// gemmlowp `SaturatingRoundingMultiplyByPOT<exponent>`.
    @inline(__always)
    package static func saturatingMultiplyByPOT(_ x: Int32, _ exponent: Int) -> Int32 {
        if exponent == 0 { return x }
        if exponent < 0 { return rdbpot(x, -exponent) }
        let threshold = Int32((1 << (31 - exponent)) - 1)
        if x > threshold { return Int32.max }
        if x < -threshold { return Int32.min }
        return x &<< Int32(exponent)
    }

    /// gemmlowp `Rescale<dst>(FixedPoint<src>)`.
    @inline(__always)
    package static func rescale(_ x: Int32, from src: Int, to dst: Int) -> Int32 {
        saturatingMultiplyByPOT(x, src - dst)
    }

    /// gemmlowp `RoundingHalfSum` for int32.
    @inline(__always)
    package static func roundingHalfSum(_ a: Int32, _ b: Int32) -> Int32 {
        let sum = Int64(a) + Int64(b)
        let sign: Int64 = sum >= 0 ? 1 : -1
        return Int32(truncatingIfNeeded: (sum + sign) / 2)
    }

    /// exp(a) for a in [-1/4, 0), Q0.31 in and out.
    package static func expOnIntervalBetweenNegativeOneQuarterAnd0Excl(_ a: Int32) -> Int32 {
        let constantTerm: Int32 = 1_895_147_668  // exp(-1/8)
        let constantOneThird: Int32 = 715_827_883  // 1/3
        let x = a &+ (1 << 28)  // a + 1/8: Taylor expansion around -1/8
        let x2 = srdhm(x, x)
        let x3 = srdhm(x2, x)
        let x4 = srdhm(x2, x2)
        let x4Over4 = saturatingMultiplyByPOT(x4, -2)
        let poly = saturatingMultiplyByPOT(srdhm(x4Over4 &+ x3, constantOneThird) &+ x2, -1)
        return constantTerm &+ srdhm(constantTerm, x &+ poly)
    }

    /// exp(a) for a ≤ 0 given with `integerBits` integer bits; result Q0.31.
    package static func expOnNegativeValues(_ a: Int32, integerBits: Int) -> Int32 {
        let fractionalBits = 31 - integerBits
        let oneQuarter = Int32(1) << Int32(fractionalBits - 2)
        let mask = oneQuarter &- 1
        let aModQuarterMinusOneQuarter = (a & mask) &- oneQuarter
        var result = expOnIntervalBetweenNegativeOneQuarterAnd0Excl(
            rescale(aModQuarterMinusOneQuarter, from: integerBits, to: 0))
        let remainder = aModQuarterMinusOneQuarter &- a
        // Barrel shifter: multiply by exp(-2^k) for each bit k of the remainder.
        let multipliers: [(exponent: Int, multiplier: Int32)] = [
            (-2, 1_672_461_947), (-1, 1_302_514_674), (0, 790_015_084), (1, 290_630_308),
            (2, 39_332_535), (3, 720_401), (4, 242),
        ]
        for (exponent, multiplier) in multipliers where integerBits > exponent {
            let shift = fractionalBits + exponent
            if remainder & (Int32(1) << Int32(shift)) != 0 {
                result = srdhm(result, multiplier)
            }
        }
        if integerBits > 5 {
            let clamp = -(Int32(1) << Int32(36 - integerBits))  // -32.0
            if a < clamp { result = 0 }
        }
        if a == 0 { result = Int32.max }
        return result
    }

    /// 1/(1+a) for a in [0,1], Q0.31 in and out (Newton-Raphson, 3 steps).
    package static func oneOverOnePlusXForXIn01(_ a: Int32) -> Int32 {
        rescale(newtonReciprocal(a), from: 1, to: 0)
    }

    /// (1-a)/(1+a) for a in [0,1], Q0.31 in and out.
    package static func oneMinusXOverOnePlusXForXIn01(_ a: Int32) -> Int32 {
        rescale(newtonReciprocal(a) &- (1 << 29), from: 2, to: 0)
    }

    /// The shared Newton-Raphson iteration: returns x ≈ 1/half_denominator in Q2.29, where
    /// half_denominator = (1+a)/2.
    private static func newtonReciprocal(_ a: Int32) -> Int32 {
        let halfDenominator = roundingHalfSum(a, Int32.max)
        let constant48Over17: Int32 = 1_515_870_810
        let constantNeg32Over17: Int32 = -1_010_580_540
        var x = constant48Over17 &+ srdhm(halfDenominator, constantNeg32Over17)
        for _ in 0..<3 {
            let halfDenominatorTimesX = srdhm(halfDenominator, x)
            let oneMinus = (Int32(1) << 29) &- halfDenominatorTimesX
            x = x &+ rescale(srdhm(x, oneMinus), from: 4, to: 2)
        }
        return x
    }

    /// gemmlowp `logistic` of a Q(integerBits) value; result Q0.31.
    package static func logistic(_ a: Int32, integerBits: Int) -> Int32 {
        if a == 0 { return 1 << 30 }
        let positive = a > 0
        let absInput = positive ? a : 0 &- a
        let resultIfPositive = oneOverOnePlusXForXIn01(expOnNegativeValues(0 &- absInput, integerBits: integerBits))
        return positive ? resultIfPositive : Int32.max &- resultIfPositive
    }

    /// gemmlowp `tanh` of a Q(integerBits) value; result Q0.31.
    package static func tanh(_ a: Int32, integerBits: Int) -> Int32 {
        if a == 0 { return 0 }
        let negative = a < 0
        let n = negative ? a : 0 &- a
        // ExactMulByPot<1>: the same raw value read with one more integer bit.
        let t = oneMinusXOverOnePlusXForXIn01(expOnNegativeValues(n, integerBits: integerBits + 1))
        return negative ? 0 &- t : t
    }

    /// `GetReciprocal`: 1/x for x with `integerDigits` integer bits; returns the Q0.31 scale
    /// and how many bits the result is above one.
    package static func reciprocal(_ x: Int32, integerDigits: Int) -> (scale: Int32, bitsOverUnit: Int) {
        let headroomPlusOne = UInt32(bitPattern: x).leadingZeroBitCount
        let bitsOverUnit = integerDigits - headroomPlusOne
        let shifted = headroomPlusOne >= 32 ? 0 : UInt32(bitPattern: x) << UInt32(headroomPlusOne)
        let shiftedSumMinusOne = Int32(bitPattern: shifted &- (UInt32(1) << 31))
        return (oneOverOnePlusXForXIn01(shiftedSumMinusOne), bitsOverUnit)
    }

    /// `CalculateInputRadius`.
    package static func inputRadius(integerBits: Int, leftShift: Int, totalSignedBits: Int = 31) -> Int32 {
        guard leftShift >= 0, leftShift < 63 else { return leftShift < 0 ? Int32.max : 0 }
        let v = 1.0 * Double((1 << integerBits) - 1) * Double(Int64(1) << Int64(totalSignedBits - integerBits))
            / Double(Int64(1) << Int64(leftShift))
        return Int32(clamping: Int64(floor(v)))
    }
}

/// A real multiplier encoded as a Q31 mantissa and a power-of-two exponent
/// (`QuantizeMultiplier`: frexp, mantissa rounded half away from zero).
package struct QuantizedMultiplier: Hashable, Sendable {
    package var multiplier: Int32
    package var shift: Int

    package init(multiplier: Int32, shift: Int) {
        self.multiplier = multiplier
        self.shift = shift
    }

    package init(_ real: Double) {
        guard real != 0, real.isFinite else {
            self.init(multiplier: 0, shift: 0)
            return
        }
        let (mantissa, exponent) = frexpParts(real)
        var qFixed = Int64((mantissa * Double(Int64(1) << 31)).rounded(.toNearestOrAwayFromZero))
        var shift = exponent
        if qFixed == (Int64(1) << 31) {
            qFixed /= 2
            shift += 1
        }
        if shift < -31 {
            shift = 0
            qFixed = 0
        }
        self.init(multiplier: Int32(truncatingIfNeeded: qFixed), shift: shift)
    }
}

/// std::frexp: real = mantissa · 2^exponent with |mantissa| in [0.5, 1).
package func frexpParts(_ x: Double) -> (Double, Int) {
    guard x != 0, x.isFinite else { return (x, 0) }
    var e: Int32 = 0
    let m = frexp(x, &e)
    return (m, Int(e))
}

/// TFLite's quantized activation clamp (`CalculateActivationRangeQuantizedImpl`, kernel_util.cc).
package func quantizedActivationRange(_ activation: ActivationFunction, scale: Float, zeroPoint: Int32, qmin: Int32 = -128, qmax: Int32 = 127) -> (Int32, Int32) {
    func quantize(_ f: Float) -> Int32 {
        zeroPoint &+ int32FromFloat((f / scale).rounded(.toNearestOrAwayFromZero))
    }
    switch activation {
    case .relu: return (max(qmin, quantize(0)), qmax)
    case .relu6: return (max(qmin, quantize(0)), min(qmax, quantize(6)))
    case .reluN1To1: return (max(qmin, quantize(-1)), min(qmax, quantize(1)))
    default: return (qmin, qmax)
    }
}

/// Float activation clamp (`CalculateActivationRange`); TANH and SIGN_BIT clamp nothing there.
package func floatActivationRange(_ activation: ActivationFunction) -> (Float, Float) {
    switch activation {
    case .relu: (0, Float.greatestFiniteMagnitude)
    case .relu6: (0, 6)
    case .reluN1To1: (-1, 1)
    default: (-Float.greatestFiniteMagnitude, Float.greatestFiniteMagnitude)
    }
}

/// C++ `static_cast<int32_t>(float)` as compiled for x86-64 (cvttss2si): truncation toward zero,
/// and INT32_MIN for NaN or out-of-range values.
@inline(__always)
package func int32FromFloat(_ f: Float) -> Int32 {
    guard f.isFinite, f >= -2147483648.0, f < 2147483648.0 else { return Int32.min }
    return Int32(f)
}

/// The same for a double (cvttsd2si).
@inline(__always)
package func int32FromDouble(_ d: Double) -> Int32 {
    guard d.isFinite, d > -2147483649.0, d < 2147483648.0 else { return Int32.min }
    return Int32(d)
}
