import Foundation
import XCTest

@testable import TFRewrite

final class AffineParametersTests: XCTestCase {
    /// TF's int8 input parameters follow from the global min/max of the calibration set it was
    /// given; ours must give the same scale and zero point (the files are TF's own output).
    func testInputParametersMatchTFReferenceModels() throws {
        let cases: [(calib: String, model: String)] = [
            ("calib/tiny_conv_calib.npy", "reference/tiny_conv_tf_int8.tflite"),
            ("calib/keras_dscnn_calib.npy", "reference/keras_dscnn_tf_int8.tflite"),
            ("calib/bn_net_calib.npy", "reference/bn_net_tf_int8.tflite"),
            ("calib/micro_speech_calib.npy", "micro_speech_int8.tflite"),
            ("calib/qdq_float_io_calib.npy", "qdq_float_io.tflite"),
            ("calib/corpus_DS_CNN_S_calib.npy", "reference/corpus/DS_CNN_S_tf_int8.tflite"),
            ("calib/corpus_DNN_S_calib.npy", "reference/corpus/DNN_S_tf_int8.tflite"),
        ]
        var checked = 0
        for c in cases {
            let calibPath = TestPaths.fixtures.appendingPathComponent(c.calib).path
            let modelPath = TestPaths.fixtures.appendingPathComponent(c.model).path
            guard FileManager.default.fileExists(atPath: calibPath), FileManager.default.fileExists(atPath: modelPath) else { continue }
            let array = try Npy.read(path: calibPath)
            let values = try XCTUnwrap(array.tensor(convertingTo: .float32)?.floats)
            let range = ObservedRange.of(values)
            let model = try TFLiteImporter.load(path: modelPath)
            let g = model.subgraphs[0]
            // With float I/O the first op is QUANTIZE; its output carries the input parameters.
            var input = g[g.inputs[0]]
            if input.dtype == .float32, let q = g.ops.first(where: { $0.inputs.first == g.inputs[0] && $0.kind == .quantize }) {
                input = g[q.outputs[0]]
            }
            let tf = try XCTUnwrap(input.quantization)
            let ours = AffineParameters.asymmetric(min: range.min, max: range.max)
            XCTAssertEqual(ours.scale, tf.scales[0], accuracy: tf.scales[0] * 1e-6, c.model)
            XCTAssertEqual(Int64(ours.zeroPoint), tf.zeroPoints[0], c.model)
            checked += 1
        }
        XCTAssertGreaterThanOrEqual(checked, 5)
    }

    /// The 16-lane range scan against a plain loop over finite values, for lengths around the
    /// vector width and with NaN and ±inf placed anywhere (including the scalar tail).
    func testObservedRangeSkipsNonFiniteValuesAtEveryPosition() {
        var rng = SplitMix64(seed: 11)
        for n in [0, 1, 15, 16, 17, 31, 32, 33, 100] {
            for special in [Float.nan, .infinity, -.infinity, 0] {
                var values = (0..<n).map { _ in Float(rng.nextNormal()) * 5 }
                if n > 0 { values[Int(rng.next() % UInt64(n))] = special }
                let finite = values.filter(\.isFinite)
                let got = ObservedRange.of(values)
                if finite.isEmpty {
                    XCTAssertTrue(got.isEmpty, "n=\(n) special=\(special)")
                } else {
                    XCTAssertEqual(got, ObservedRange(min: finite.min()!, max: finite.max()!), "n=\(n) special=\(special)")
                }
            }
        }
    }

    func testRangeIsWidenedToContainZero() {
        let positive = AffineParameters.asymmetric(min: 2, max: 10)
        XCTAssertEqual(positive.zeroPoint, -128)
        XCTAssertEqual(positive.scale, 10 / 255, accuracy: 1e-7)
        XCTAssertEqual(positive.dequantize(positive.quantize(0)), 0)
        let negative = AffineParameters.asymmetric(min: -4, max: -1)
        XCTAssertEqual(negative.zeroPoint, 127)
        XCTAssertEqual(negative.dequantize(127), 0)
        let symmetricish = AffineParameters.asymmetric(min: -1, max: 1)
        XCTAssertEqual(symmetricish.scale, 2 / 255, accuracy: 1e-7)
        // Zero is exact whatever the range.
        for (lo, hi) in [(-3.7, 11.2), (-0.01, 250.0), (-100.0, 0.5)] as [(Float, Float)] {
            let p = AffineParameters.asymmetric(min: lo, max: hi)
            XCTAssertEqual(p.dequantize(p.quantize(0)), 0)
            XCTAssertLessThanOrEqual(p.representableRange.lowerBound, lo + p.scale)
            XCTAssertGreaterThanOrEqual(p.representableRange.upperBound, hi - p.scale)
        }
    }

    func testDegenerateRanges() {
        XCTAssertEqual(AffineParameters.asymmetric(min: 0, max: 0), AffineParameters(scale: 1, zeroPoint: 0))
        XCTAssertEqual(AffineParameters.asymmetric(min: .nan, max: .infinity), AffineParameters(scale: 1, zeroPoint: 0))
        XCTAssertEqual(AffineParameters.symmetricScale(maxAbs: 0), 1)
        XCTAssertEqual(AffineParameters.symmetricScale(maxAbs: 12.7), 0.1, accuracy: 1e-7)
    }

    func testQuantizeRoundsHalfAwayFromZeroAndClamps() {
        let p = AffineParameters(scale: 0.5, zeroPoint: 0)
        XCTAssertEqual(p.quantize(0.25), 1)
        XCTAssertEqual(p.quantize(-0.25), -1)
        XCTAssertEqual(p.quantize(1000), 127)
        XCTAssertEqual(p.quantize(-1000), -128)
        XCTAssertEqual(p.quantize(.nan), 0)
    }

    func testPerChannelSymmetricWeights() throws {
        // [out=3, in=4]; channel 1 is all zeros.
        let w: [Float] = [0.5, -1.0, 0.25, 0.0, 0, 0, 0, 0, 3.0, 2.0, -6.0, 1.0]
        let t = ConstantQuantizer.symmetricWeights(w, shape: [3, 4], axis: 0)
        let q = try XCTUnwrap(t.type.quantization)
        XCTAssertEqual(t.type.dtype, .int8)
        XCTAssertEqual(q.axis, 0)
        XCTAssertEqual(q.zeroPoints, [0, 0, 0])
        XCTAssertEqual(q.scales[0], 1.0 / 127, accuracy: 1e-9)
        XCTAssertEqual(q.scales[1], 1)
        XCTAssertEqual(q.scales[2], 6.0 / 127, accuracy: 1e-8)
        let values = t.scalars(Int8.self)
        XCTAssertEqual(values[1], -127)
        XCTAssertEqual(values[10], -127)
        XCTAssertTrue(values.allSatisfy { $0 >= -127 })
        for (i, v) in w.enumerated() {
            let s = q.scales[i / 4]
            XCTAssertEqual(Float(values[i]) * s, v, accuracy: s / 2 + 1e-7)
        }
        // Depthwise filter [1, 2, 2, 3]: channels on the last axis.
        let dw: [Float] = (0..<12).map { Float($0 % 3 + 1) * (Float($0) - 5) }
        let d = ConstantQuantizer.symmetricWeights(dw, shape: [1, 2, 2, 3], axis: 3)
        let dq = try XCTUnwrap(d.type.quantization)
        XCTAssertEqual(dq.axis, 3)
        XCTAssertEqual(dq.scales.count, 3)
        for c in 0..<3 {
            let m = stride(from: c, to: 12, by: 3).map { abs(dw[$0]) }.max()!
            XCTAssertEqual(dq.scales[c], m / 127, accuracy: 1e-7)
        }
        // Per tensor.
        let pt = ConstantQuantizer.symmetricWeights(w, shape: [3, 4], axis: nil)
        XCTAssertEqual(pt.type.quantization?.scales.count, 1)
        XCTAssertEqual(pt.type.quantization?.scales[0] ?? 0, 6.0 / 127, accuracy: 1e-8)
    }

    func testBiasScaleIsInputTimesWeightScale() throws {
        let (t, saturated) = ConstantQuantizer.bias([1.0, -2.0, 3e9], shape: [3], inputScale: 0.5, weightScales: [0.01, 0.02, 0.04])
        let q = try XCTUnwrap(t.type.quantization)
        XCTAssertEqual(t.type.dtype, .int32)
        XCTAssertEqual(q.scales, [0.005, 0.01, 0.02].map { Float($0) })
        XCTAssertEqual(q.zeroPoints, [0, 0, 0])
        XCTAssertEqual(Array(t.scalars(Int32.self)), [200, -200, Int32.max])
        XCTAssertEqual(saturated, 1)
        let (pt, _) = ConstantQuantizer.bias([0.3, 0.6], shape: [2], inputScale: 0.1, weightScales: [0.1])
        XCTAssertEqual(pt.type.quantization?.scales.count, 1)
        XCTAssertEqual(Array(pt.scalars(Int32.self)), [30, 60])
    }

    func testPercentileRangesIgnoreOutliers() {
        var values = (0..<10_000).map { Float($0) / 10_000 }  // uniform in [0, 1)
        values += [1000, -1000]  // two outliers
        var mm = MinMaxObserver()
        values.withUnsafeBufferPointer { mm.observe(ValueID(0), $0) }
        XCTAssertEqual(mm.ranges[ValueID(0)], ObservedRange(min: -1000, max: 1000))
        var h = HistogramObserver(ranges: mm.ranges)
        values.withUnsafeBufferPointer { h.observe(ValueID(0), $0) }
        let r = h.percentileRanges(99.9)[ValueID(0)]!
        XCTAssertEqual(r.max, 0.999, accuracy: 0.5)  // one bin is 2000/4096 ≈ 0.49 wide
        XCTAssertEqual(r.min, 0.0, accuracy: 0.5)
        XCTAssertLessThan(r.max - r.min, 2)
    }
}
