import FlatBuffers
import Foundation
import XCTest

@testable import TFRewrite

/// The signal-library custom ops: their flexbuffer options, the integer helpers on values worked
/// out by hand or from the math they approximate, the fixed-point FFT on signals whose spectrum
/// is known, and the micro_speech audio preprocessor end to end. Bit-exactness with TFLM itself
/// is checked by Tests/Conformance/test_signal.py.
final class SignalKernelTests: XCTestCase {
    typealias G = InterpreterTestSupport.GraphBuilder

    private func bytes(_ hex: String) -> [UInt8] { InterpreterTestSupport.bytes(hex: hex) }

    // MARK: FlexBuffers

    /// The SignalWindow and SignalFilterBankSpectralSubtraction options of TFLM's
    /// audio_preprocessor_int8.tflite, copied from the file.
    func testFlexBufferMapReadsCustomOptions() throws {
        let window = try FlexBufferMap(bytes("73686966740001070101010c04022401"))
        XCTAssertEqual(window.entries.map(\.key), ["shift"])
        XCTAssertEqual(window["shift"], .int(12))

        let subtraction = try FlexBufferMap(bytes(
            "616c7465726e6174655f6f6e655f6d696e75735f736d6f6f7468696e6700616c7465726e6174655f736d6f6f7468696e6700636c616d70696e67006d696e5f7369676e616c5f72656d61696e696e67006e756d5f6368616e6e656c73006f6e655f6d696e75735f736d6f6f7468696e6700736d6f6f7468696e6700736d6f6f7468696e675f6269747300737065637472616c5f7375627472616374696f6e5f626974730009a588756d594d3a3123090001000900293cd703000033032800673e99010a000e000505690505050505051b2501"))
        XCTAssertEqual(subtraction.entries.map(\.key), [
            "alternate_one_minus_smoothing", "alternate_smoothing", "clamping", "min_signal_remaining", "num_channels",
            "one_minus_smoothing", "smoothing", "smoothing_bits", "spectral_subtraction_bits",
        ])
        XCTAssertEqual(subtraction["clamping"], .bool(false))
        XCTAssertEqual(subtraction["num_channels"]?.int64, 40)
        XCTAssertEqual(subtraction["smoothing_bits"]?.int64, 10)
        XCTAssertEqual(subtraction["spectral_subtraction_bits"]?.int64, 14)
        // smoothing + one_minus_smoothing = 2^14 (Q14 weights summing to one).
        XCTAssertEqual((subtraction["smoothing"]?.int64 ?? 0) + (subtraction["one_minus_smoothing"]?.int64 ?? 0), 1 << 14)

        XCTAssertTrue(try FlexBufferMap([]).entries.isEmpty)
        XCTAssertTrue(try FlexBufferMap(bytes("00000100002401")).entries.isEmpty)
    }

    func testMalformedFlexBuffersThrowAndNeverTrap() throws {
        XCTAssertThrowsError(try FlexBufferMap([1, 2])) { XCTAssertTrue("\($0)".contains("too short"), "\($0)") }
        // A root that is an int, not a map.
        XCTAssertThrowsError(try FlexBufferMap([7, 4, 1])) { XCTAssertTrue("\($0)".contains("expected a map"), "\($0)") }
        let good = bytes("656e645f696e6465780073746172745f696e6465780002170e00030001000200f10005000505062501")
        // SignalEnergy's options (2-byte values): bins 5..<241, the 236 the model's STRIDED_SLICE keeps.
        XCTAssertEqual(try FlexBufferMap(good)["end_index"], .int(241))
        XCTAssertEqual(try FlexBufferMap(good)["start_index"], .int(5))
        var rng = SplitMix64(seed: 7)
        var parsed = 0
        for _ in 0..<3000 {
            var b = good
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                b[Int(rng.next() % UInt64(b.count))] = UInt8(truncatingIfNeeded: rng.next())
            }
            if rng.next() % 4 == 0 { b.removeFirst(Int(rng.next() % UInt64(b.count))) }
            if (try? FlexBufferMap(b)) != nil { parsed += 1 }
        }
        XCTAssertGreaterThan(parsed, 0)
    }

    // MARK: Integer helpers (signal/src)

    func testSquareRootsRoundToNearest() {
        for x in UInt32(0)..<70_000 {
            XCTAssertEqual(SignalArithmetic.sqrt32(x), UInt16(Double(x).squareRoot().rounded()), "sqrt32(\(x))")
        }
        XCTAssertEqual(SignalArithmetic.sqrt32(UInt32.max), 0xFFFF)  // 65535.99…, capped
        var rng = SplitMix64(seed: 3)
        for _ in 0..<20_000 {
            let x = rng.next() >> (12 + rng.next() % 52)
            XCTAssertEqual(UInt64(SignalArithmetic.sqrt64(x)), UInt64(Double(x).squareRoot().rounded()), "sqrt64(\(x))")
        }
        XCTAssertEqual(SignalArithmetic.sqrt64(UInt64.max), 0xFFFF_FFFF)
        XCTAssertEqual(SignalArithmetic.sqrt64(1 << 62), 1 << 31)
    }

    func testLogIsScaledNaturalLog() {
        var rng = SplitMix64(seed: 5)
        for _ in 0..<20_000 {
            let x = UInt32(truncatingIfNeeded: rng.next() >> (32 + rng.next() % 31)) | 2
            let expected = 64 * log(Double(x))
            XCTAssertEqual(Double(SignalArithmetic.log32(x, outScale: 64)), expected, accuracy: 1.01, "log32(\(x))")
        }
        XCTAssertEqual(SignalArithmetic.log32(1 << 16, outScale: 1 << 10), 11357)  // 1024 · 16 ln 2 = 11356.5
    }

    func testPcanHelpers() {
        // PcanShrink: x² / 2^20 below 2·2^12, then x / 2^6 − 2^6 (continuous at 8192: 64).
        XCTAssertEqual(SignalArithmetic.pcanShrink(0), 0)
        XCTAssertEqual(SignalArithmetic.pcanShrink(4096), 16)
        XCTAssertEqual(SignalArithmetic.pcanShrink(8191), 63)
        XCTAssertEqual(SignalArithmetic.pcanShrink(8192), 64)
        XCTAssertEqual(SignalArithmetic.pcanShrink(1 << 20), (1 << 14) - 64)
        // WideDynamicFunction: lut[x] up to 2; otherwise the octave's quadratic at frac 0 is lut[base].
        let lut: [Int16] = (0..<125).map { Int16($0 * 10) }
        lut.withUnsafeBufferPointer { p in
            XCTAssertEqual(SignalArithmetic.wideDynamicFunction(2, p.baseAddress!, count: 125), 20)
            // x = 4: interval 3, base 6, frac = (4 << 8) & 0x3FF = 0 → lut[6].
            XCTAssertEqual(SignalArithmetic.wideDynamicFunction(4, p.baseAddress!, count: 125), 60)
            // x = 6: frac = (6 << 8) & 0x3FF = 512; ((80·512 >> 5) + (70 << 5))·512 rounded >> 15 = 55, + 60.
            XCTAssertEqual(SignalArithmetic.wideDynamicFunction(6, p.baseAddress!, count: 125), 115)
            XCTAssertNil(SignalArithmetic.wideDynamicFunction(UInt32.max, p.baseAddress!, count: 100))
        }
    }

    // MARK: Fixed-point FFT

    private func spectrum(_ samples: [Int16]) throws -> [(Int, Int)] {
        let fft = try XCTUnwrap(KissRealFFT<KissInt16>(length: samples.count))
        var out = [Int16](repeating: 0, count: samples.count + 2)
        var scratch = [KissComplex<Int16>](repeating: .init(0, 0), count: samples.count)
        samples.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { o in
                scratch.withUnsafeMutableBufferPointer { fft.transform(x.baseAddress!, o.baseAddress!, scratch: $0.baseAddress!) }
            }
        }
        return (0...(samples.count / 2)).map { (Int(out[2 * $0]), Int(out[2 * $0 + 1])) }
    }

    /// kiss_fftr in fixed point divides by the length: a cosine of amplitude A at bin k gives
    /// A/2 at bin k, a constant c gives c at bin 0. Lengths 64 (radix 4·4·2), 120 (4·3·5).
    func testFFTOfKnownSignals() throws {
        for (length, bin) in [(64, 5), (120, 7), (20, 3)] {
            let cosine = (0..<length).map { Int16(16000 * cos(2 * Double.pi * Double(bin * $0) / Double(length))) }
            for (k, (re, im)) in try spectrum(cosine).enumerated() {
                XCTAssertEqual(re, k == bin ? 8000 : 0, accuracy: 6, "length \(length) bin \(k) real")
                XCTAssertEqual(im, 0, accuracy: 6, "length \(length) bin \(k) imaginary")
            }
            let constant = try spectrum(Array(repeating: 1000, count: length))
            XCTAssertEqual(constant[0].0, 1000, accuracy: 2)
            XCTAssertTrue(constant.dropFirst().allSatisfy { abs($0.0) <= 2 && abs($0.1) <= 2 })
        }
        XCTAssertNil(KissRealFFT<KissInt16>(length: 15))   // odd
        XCTAssertNil(KissRealFFT<KissInt16>(length: 14))   // half 7: kf_bfly_generic, which TFLM's kissfft cannot run
        XCTAssertNotNil(KissRealFFT<KissInt16>(length: 512))
    }

    // MARK: Kernels in the interpreter

    func testCastFollowsStaticCast() throws {
        func cast(_ input: RuntimeTensor, to dtype: DType) throws -> RuntimeTensor {
            var g = G()
            let x = g.value("x", input.dtype, input.shape.map(Int32.init))
            let y = g.value("y", dtype, input.shape.map(Int32.init))
            g.op(.builtin(.cast, options: nil), [x], [y])
            return try Interpreter(model: g.model(inputs: [x], outputs: [y])).run([input])[0]
        }
        XCTAssertEqual(try cast(RuntimeTensor(shape: [3], uint32s: [UInt32.max, 1, 1 << 31])!, to: .int32).int32s, [-1, 1, Int32.min])
        XCTAssertEqual(try cast(RuntimeTensor(shape: [2], int32s: [-1, 300])!, to: .uint32).uint32s, [UInt32.max, 300])
        XCTAssertEqual(try cast(RuntimeTensor(shape: [3], int32s: [300, -129, 127])!, to: .int8).int8s, [44, 127, 127])
        XCTAssertEqual(try cast(RuntimeTensor(shape: [4], floats: [-1.7, 2.9, .nan, 3e9])!, to: .int32).int32s, [-1, 2, Int32.min, Int32.min])
        XCTAssertEqual(try cast(RuntimeTensor(shape: [2], int16s: [-32768, 7])!, to: .float32).floats, [-32768, 7])
        XCTAssertEqual(try cast(RuntimeTensor(shape: [2], bools: [true, false])!, to: .int32).int32s, [1, 0])

        var g = G()
        let x = g.value("x", .int64, [2]), y = g.value("y", .int32, [2])
        g.op(.builtin(.cast, options: nil), [x], [y])
        XCTAssertThrowsError(try Interpreter(model: g.model(inputs: [x], outputs: [y]))) {
            XCTAssertTrue(($0 as? InterpreterError)?.unsupportedOps.first?.reason.hasPrefix("types INT64 → INT32") == true, "\($0)")
        }
    }

    func testInt32DivisionTruncatesAndReportsZero() throws {
        var g = G()
        let a = g.value("a", .int32, [4]), b = g.value("b", .int32, [4]), c = g.value("c", .int32, [4])
        g.op(.builtin(.div, options: nil), [a, b], [c])
        let interp = try Interpreter(model: g.model(inputs: [a, b], outputs: [c]))
        let out = try interp.run([RuntimeTensor(shape: [4], int32s: [-7, 7, 9, Int32.min])!, RuntimeTensor(shape: [4], int32s: [2, -2, 10, -1])!])
        XCTAssertEqual(out[0].int32s, [-3, -3, 0, Int32.min])
        XCTAssertThrowsError(try interp.run([RuntimeTensor(shape: [4], int32s: [1, 2, 3, 4])!, RuntimeTensor(shape: [4], int32s: [1, 0, 1, 1])!])) {
            XCTAssertEqual("\($0)", "DIV #0: integer division by zero")
        }
    }

    func testCustomOperatorTableHasOneKernelPerCode() {
        var seen: [String: Int] = [:]
        for d in CustomOperatorTable.all { seen[d.code, default: 0] += 1 }
        XCTAssertEqual(seen.filter { $0.value > 1 }, [:])
        for code in ["SignalWindow", "SignalFftAutoScale", "SignalRfft", "SignalEnergy", "SignalFilterBank",
                     "SignalFilterBankSquareRoot", "SignalFilterBankSpectralSubtraction", "SignalPCAN", "SignalFilterBankLog"] {
            XCTAssertNotNil(CustomOperatorTable[code]?.kernel, code)
        }
        XCTAssertNil(CustomOperatorTable["MyOp"])
    }

    func testBadCustomOptionsAreReportedWithTheOp() {
        var g = G()
        let x = g.value("x", .int16, [8]), w = g.value("w", .int16, [8]), y = g.value("y", .int16, [8])
        g.graph.addOp(Op(kind: .custom(code: "SignalWindow"), inputs: [x, w], outputs: [y], customOptions: ByteSlice([9, 9])))
        XCTAssertThrowsError(try Interpreter(model: g.model(inputs: [x, w], outputs: [y]))) {
            let reason = ($0 as? InterpreterError)?.unsupportedOps.first?.reason ?? ""
            XCTAssertTrue(reason.hasPrefix("custom options: flexbuffer"), reason)
        }
        var h = G()
        let a = h.value("a", .int16, [8]), b = h.value("b", .int16, [8]), c = h.value("c", .int16, [8])
        // {"shift": 40}
        h.graph.addOp(Op(kind: .custom(code: "SignalWindow"), inputs: [a, b], outputs: [c], customOptions: ByteSlice(bytes("73686966740001070101012804022401"))))
        XCTAssertThrowsError(try Interpreter(model: h.model(inputs: [a, b], outputs: [c]))) {
            XCTAssertEqual(($0 as? InterpreterError)?.unsupportedOps.first?.reason, "shift 40 is outside 0…31")
        }
    }

    private func audioPreprocessor() throws -> Model {
        let path = InterpreterTestSupport.corpus.appendingPathComponent("audio_preprocessor_int8.tflite").path
        guard FileManager.default.fileExists(atPath: path) else { throw XCTSkip("model corpus absent: \(path) not found") }
        return try TFLiteImporter.load(path: path)
    }

    /// A 1 kHz tone after a loud frame gives other features than after reset: the noise estimate
    /// is carried between runs, and `resetState` restores the loaded state.
    func testAudioPreprocessorCarriesTheNoiseEstimate() throws {
        let interp = try Interpreter(model: try audioPreprocessor())
        let tone = RuntimeTensor(shape: [1, 480], int16s: (0..<480).map { Int16(8000 * sin(2 * Double.pi * 1000 * Double($0) / 16000)) })!
        let loud = RuntimeTensor(shape: [1, 480], int16s: (0..<480).map { Int16(truncatingIfNeeded: ($0 * 7919) % 30000 - 15000) })!
        let fresh = try interp.run([tone])[0]
        XCTAssertEqual(fresh.shape, [40])
        XCTAssertEqual(fresh.dtype, .int8)
        _ = try interp.run([loud])
        let afterLoud = try interp.run([tone])[0]
        XCTAssertNotEqual(afterLoud, fresh)
        interp.resetVariables()
        XCTAssertEqual(try interp.run([tone])[0], fresh)
        // The 1 kHz tone is the strongest feature near mel channel 1 kHz, not at the band edges.
        let features = fresh.int8s!.map(Int.init)
        XCTAssertGreaterThan(features.max()!, features[0])
    }

    /// Random byte flips in the audio preprocessor (custom options included) load and run, or
    /// throw; never trap.
    func testCorruptedAudioPreprocessorNeverTraps() throws {
        let path = InterpreterTestSupport.corpus.appendingPathComponent("audio_preprocessor_int8.tflite").path
        guard let bytes = FileManager.default.contents(atPath: path).map([UInt8].init) else { throw XCTSkip("model corpus absent: \(path) not found") }
        let ran = InterpreterTestSupport.runCorruptedCopies(of: bytes, seed: 11, count: 300, flips: 3)
        XCTAssertGreaterThan(ran, 0)
    }
}
