import TestSupport
import XCTest

@testable import TFRewrite

final class FoldFloat16ConstantsTests: XCTestCase {
    /// Bits of binary16 values: 1.5, −0.25, the smallest subnormal 2⁻²⁴, 65504 (largest), −0, +inf.
    static let halfBits: [UInt16] = [0x3e00, 0xb400, 0x0001, 0x7bff, 0x8000, 0x7c00]
    static let halfValues: [Float] = [1.5, -0.25, 0x1p-24, 65504, -0.0, .infinity]

    func testBinary16ToBinary32IsExact() {
        XCTAssertEqual(Self.halfBits.map(Float16Bits.float), Self.halfValues)
        XCTAssertEqual(Float16Bits.float(0x03ff), Float(0x3ff) * 0x1p-24)  // largest subnormal
        XCTAssertTrue(Float16Bits.float(0x7e00).isNaN)
        // Every finite half: the binary32 result converts back to the same bits.
        for bits in UInt16(0)...UInt16.max where (bits >> 10) & 0x1f != 0x1f {
            let back = Float16Bits.bits(exactly: Float16Bits.float(bits))
            XCTAssertEqual(back, bits, "half \(String(bits, radix: 16))")
            if back != bits { break }
        }
    }

    func model() throws -> Model {
        try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": f32[1,6]
              const %1 "w": f16[6] = [1.5, -0.25, 5.9604645e-08, 65504.0, -0.0, inf]
              #0 DEQUANTIZE v3 (%1) -> %2 "w_f32": f32[6]
              #1 MUL v1 (%0, %2) -> %3 "y": f32[1,6]
              output %3

            """)
    }

    func testTextFormWritesTheBinary16Bits() throws {
        let m = try model()
        XCTAssertEqual(m.constantData(m.subgraphs[0].values[1])?.array, Self.halfBits.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] })
        XCTAssertNil(Float16Bits.bits(exactly: 0.1))
        XCTAssertNil(Float16Bits.bits(exactly: 65520))
        XCTAssertNil(Float16Bits.bits(exactly: 0x1p-25))
        XCTAssertEqual(Float16Bits.bits(exactly: 0x1p-14), 0x0400)
    }

    func testDequantizeOfAFloat16ConstantFoldsGolden() throws {
        let given = try model()
        var m = given
        var ctx = PassContext()
        XCTAssertTrue(try runVerified([FoldFloat16Constants(), Cleanup()], on: &m, context: &ctx))
        GoldenIR.check("fold-float16-constants", given: given, passes: "fold-float16-constants, cleanup", result: m)
        XCTAssertEqual(liveOpNames(m), ["MUL"])
        XCTAssertEqual(m.constant(m.subgraphs[0].ops.first { !$0.isErased }!.inputs[1])?.floats, Self.halfValues)
    }

    func testOtherDequantizesAreLeftAlone() throws {
        var m = try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": i8[1,2] q(0.5, 0)
              const %1 "c": f16[2] = sha256:00000000
              #0 DEQUANTIZE v2 (%0) -> %2 "y": f32[1,2]
              #1 DEQUANTIZE v3 (%1) -> %3 "out": f32[2]
              output %2
              output %3

            """)
        var ctx = PassContext()
        var pass = FoldFloat16Constants()
        XCTAssertFalse(try pass.run(on: &m, context: &ctx))
    }
}
