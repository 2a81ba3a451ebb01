import Foundation
import XCTest

@testable import TFRewrite

/// The fixed-point primitives against values derived by hand from their definitions.
final class FixedPointTests: XCTestCase {
    func testQuantizeMultiplier() {
        // 0.5 = 0.5·2^0 → mantissa 2^30, shift 0.
        XCTAssertEqual(QuantizedMultiplier(0.5), QuantizedMultiplier(multiplier: 1 << 30, shift: 0))
        // 1.0 = 0.5·2^1.
        XCTAssertEqual(QuantizedMultiplier(1.0), QuantizedMultiplier(multiplier: 1 << 30, shift: 1))
        // 0.75·2^-3: mantissa round(0.75·2^31).
        XCTAssertEqual(QuantizedMultiplier(0.09375), QuantizedMultiplier(multiplier: 1_610_612_736, shift: -3))
        // A mantissa that rounds up to 2^31 is halved and the shift incremented.
        XCTAssertEqual(QuantizedMultiplier(0.999_999_999_9), QuantizedMultiplier(multiplier: 1 << 30, shift: 1))
        // Tiny multipliers flush to zero; zero stays zero.
        XCTAssertEqual(QuantizedMultiplier(1e-12), QuantizedMultiplier(multiplier: 0, shift: 0))
        XCTAssertEqual(QuantizedMultiplier(0), QuantizedMultiplier(multiplier: 0, shift: 0))
    }

    func testSaturatingRoundingDoublingHighMul() {
        XCTAssertEqual(FixedPoint.srdhm(Int32.min, Int32.min), Int32.max)
        XCTAssertEqual(FixedPoint.srdhm(1 << 30, 1 << 30), 1 << 29)  // 0.5·0.5 = 0.25
        // The nudge is +2^30 for a positive product and 1 − 2^30 for a negative one, then the
        // division truncates: positive ties round up, negative ties toward zero.
        XCTAssertEqual(FixedPoint.srdhm(3, 1 << 30), 2)  // 1.5 → 2
        XCTAssertEqual(FixedPoint.srdhm(-3, 1 << 30), -1)  // -1.5 → -1
        XCTAssertEqual(FixedPoint.srdhm(1, 1 << 30), 1)  // 0.5 → 1
        XCTAssertEqual(FixedPoint.srdhm(-1, 1 << 30), 0)  // -0.5 → 0
        XCTAssertEqual(FixedPoint.srdhm(-5, 1 << 30), -2)  // -2.5 → -2
        XCTAssertEqual(FixedPoint.srdhm(-7, 3 << 29), -5)  // -5.25 → -5
    }

    func testRoundingDivideByPOT() {
        XCTAssertEqual(FixedPoint.rdbpot(5, 1), 3)  // 2.5 → 3
        XCTAssertEqual(FixedPoint.rdbpot(-5, 1), -3)  // -2.5 → -3
        XCTAssertEqual(FixedPoint.rdbpot(7, 2), 2)  // 1.75 → 2
        XCTAssertEqual(FixedPoint.rdbpot(-6, 2), -2)  // -1.5 → -2
        XCTAssertEqual(FixedPoint.rdbpot(-5, 2), -1)  // -1.25 → -1
        XCTAssertEqual(FixedPoint.rdbpot(123, 0), 123)
    }

    func testMultiplyByQuantizedMultiplier() {
        let half = QuantizedMultiplier(0.5)
        XCTAssertEqual(FixedPoint.multiply(7, half), 4)  // 3.5 → 4
        XCTAssertEqual(FixedPoint.multiply(-7, half), -3)  // -3.5 → -3 (the high-mul tie rule)
        let quarter = QuantizedMultiplier(0.25)  // 2^30 with shift -1: the divide rounds away
        XCTAssertEqual(FixedPoint.multiply(-6, quarter), -2)  // srdhm → -3, then -1.5 → -2
        let three = QuantizedMultiplier(3.0)  // 0.75·2^2: left shift first
        XCTAssertEqual(FixedPoint.multiply(5, three), 15)
        let small = QuantizedMultiplier(0.001)
        XCTAssertEqual(FixedPoint.multiply(100_000, small), 100)
    }

    /// The approximations stay within a few ulps of the functions they stand for.
    func testTranscendentalApproximations() {
        func q(_ x: Double, _ intBits: Int) -> Int32 { Int32((x * Double(Int64(1) << Int64(31 - intBits))).rounded()) }
        func real(_ r: Int32) -> Double { Double(r) / Double(Int64(1) << 31) }
        for x in stride(from: -8.0, through: 0.0, by: 0.37) {
            let e = real(FixedPoint.expOnNegativeValues(q(x, 5), integerBits: 5))
            XCTAssertEqual(e, exp(x), accuracy: 2e-6, "exp(\(x))")
        }
        XCTAssertEqual(FixedPoint.expOnNegativeValues(0, integerBits: 5), Int32.max)
        for x in stride(from: -7.5, through: 7.5, by: 0.41) {
            XCTAssertEqual(real(FixedPoint.logistic(q(x, 4), integerBits: 4)), 1 / (1 + exp(-x)), accuracy: 2e-6, "logistic(\(x))")
            XCTAssertEqual(real(FixedPoint.tanh(q(x, 4), integerBits: 4)), tanh(x), accuracy: 4e-6, "tanh(\(x))")
        }
        XCTAssertEqual(FixedPoint.logistic(0, integerBits: 4), 1 << 30)
        XCTAssertEqual(FixedPoint.tanh(0, integerBits: 4), 0)
        // 1/(1+x) at x = 0.5 → 2/3.
        XCTAssertEqual(real(FixedPoint.oneOverOnePlusXForXIn01(1 << 30)), 2.0 / 3.0, accuracy: 1e-8)
    }

    func testReciprocalAndInputRadius() {
        // sum = 2.0 in Q12.19: 1/2 with one bit over unit... expressed as scale·2^-bits.
        let (scale, bits) = FixedPoint.reciprocal(Int32(2 << 19), integerDigits: 12)
        XCTAssertEqual(Double(scale) / Double(Int64(1) << 31) / pow(2, Double(bits)), 0.5, accuracy: 1e-8)
        // CalculateInputRadius(5, 0) = 31·2^26.
        XCTAssertEqual(FixedPoint.inputRadius(integerBits: 5, leftShift: 0), 31 << 26)
        XCTAssertEqual(FixedPoint.inputRadius(integerBits: 4, leftShift: 3), (15 << 27) >> 3)
    }

    func testQuantizedActivationRange() {
        XCTAssertEqual(quantizedActivationRange(.none, scale: 0.1, zeroPoint: 3).0, -128)
        let relu6 = quantizedActivationRange(.relu6, scale: 0.05, zeroPoint: -128)
        XCTAssertEqual(relu6.0, -128)
        XCTAssertEqual(relu6.1, -8)  // -128 + round(6/0.05) = -8
        let relu = quantizedActivationRange(.relu, scale: 0.05, zeroPoint: 10)
        XCTAssertEqual(relu.0, 10)
        XCTAssertEqual(relu.1, 127)
    }

    func testFloatToInt32MatchesX86Conversion() {
        XCTAssertEqual(int32FromFloat(2.9), 2)
        XCTAssertEqual(int32FromFloat(-2.9), -2)
        XCTAssertEqual(int32FromFloat(3e9), Int32.min)
        XCTAssertEqual(int32FromFloat(.nan), Int32.min)
        XCTAssertEqual(int32FromFloat(-.infinity), Int32.min)
    }
}
