import Foundation
import XCTest

@testable import TFRewrite

/// `--ranges minmax|percentile:P|mse`: parsing, the MSE range search over a histogram, the
/// per-channel weight scale search, and the CLI.
final class RangeSearchTests: XCTestCase {
    func testParsing() throws {
        XCTAssertEqual(try RangeMethod(parsing: "minmax"), .minMax)
        XCTAssertEqual(try RangeMethod(parsing: "MSE"), .mse)
        XCTAssertEqual(try RangeMethod(parsing: "percentile:99.9"), .percentile(99.9))
        for bad in ["", "max", "percentile", "percentile:40", "percentile:x", "percentile:101"] {
            XCTAssertThrowsError(try RangeMethod(parsing: bad), bad)
        }
        XCTAssertEqual(RangeMethod.mse.description, "mse")
    }

    /// The pass options of rules files: `ranges`, `weight_search`, `equalize`.
    func testPassOptions() throws {
        let entry = try XCTUnwrap(PassRegistry.entry("quantize-int8"))
        let pass = try entry.make(PassOptions(["calibration": .string("c.npy"), "ranges": .string("mse"),
                                               "weight_search": .bool(true), "equalize": .bool(true)]))
        let q = try XCTUnwrap(pass as? QuantizeInt8Pass)
        XCTAssertEqual(q.ranges, .mse)
        XCTAssertTrue(q.weightSearch && q.equalize)
        XCTAssertEqual(try XCTUnwrap(entry.make(PassOptions(["calibration": .string("c.npy")])) as? QuantizeInt8Pass).ranges, .default)
        XCTAssertThrowsError(try entry.make(PassOptions(["calibration": .string("c.npy"), "ranges": .string("kl")], location: "r.yaml:3"))) { e in
            XCTAssertTrue("\(e)".hasPrefix("r.yaml:3: pass quantize-int8: option 'ranges': "), "\(e)")
        }
    }

    private func histogram(_ values: [Float]) -> HistogramObserver.Histogram {
        var mm = MinMaxObserver()
        values.withUnsafeBufferPointer { mm.observe(ValueID(0), $0) }
        var h = HistogramObserver(ranges: mm.ranges)
        values.withUnsafeBufferPointer { h.observe(ValueID(0), $0) }
        return h.histograms[ValueID(0)]!
    }

    /// Unlike a percentile, MSE keeps a few far outliers: clipping 40 to ~1 costs 40² each,
    /// more than the coarser rounding of everything else (20 000 · (41/255)²/12 ≈ 43).
    func testMSERangeKeepsFewFarOutliers() {
        var values = (0..<20_000).map { Float($0 % 1000) / 1000 }  // uniform in [0, 1)
        values += [40, 41]
        let r = RangeSearch.mseRange(histogram(values))
        XCTAssertEqual(r.min, 0)
        XCTAssertGreaterThan(r.max, 39)
    }

    /// Dense values up to the end are not clipped: clipping them costs more than it saves.
    func testMSERangeKeepsUniformRange() {
        let values = (0..<20_000).map { Float($0 % 1000) / 1000 * 6 - 2 }  // uniform in [-2, 4)
        let r = RangeSearch.mseRange(histogram(values))
        XCTAssertEqual(r.min, -2, accuracy: 0.1)
        XCTAssertEqual(r.max, 4, accuracy: 0.2)
    }

    /// ReLU's exact zeros are held exactly by int8; they must not push the range inwards.
    func testExactZerosDoNotShrinkTheRange() {
        let spread = (0..<200).map { Float($0) / 200 * 3 }
        let withZeros = spread + Array(repeating: 0, count: 100_000)
        let a = RangeSearch.mseRange(histogram(spread)), b = RangeSearch.mseRange(histogram(withZeros))
        XCTAssertEqual(a, b)
        XCTAssertEqual(histogram(withZeros).zeros, 100_001)
    }

    /// The estimate of the chosen range is never above min/max's (min/max is a candidate), and
    /// the same data gives the same range.
    func testChosenRangeBeatsMinMaxAndIsDeterministic() {
        var rng = SplitMix64(seed: 7)
        let values = (0..<50_000).map { _ in Float(rng.nextNormal() * rng.nextNormal()) }  // heavy tails
        let h = histogram(values)
        let table = RangeSearch.PrefixSums(h)
        let chosen = RangeSearch.mseRange(h)
        let e = table.expectedError(AffineParameters.asymmetric(min: chosen.min, max: chosen.max))
        let full = table.expectedError(AffineParameters.asymmetric(min: h.range.min, max: h.range.max))
        XCTAssertLessThan(e, full)
        XCTAssertLessThan(chosen.max - chosen.min, h.range.max - h.range.min)
        XCTAssertEqual(RangeSearch.mseRange(histogram(values)), chosen)
    }

    func testWeightSearchNeverWorseThanMaxAbs() {
        var rng = SplitMix64(seed: 3)
        let w = (0..<4 * 64).map { i in Float(rng.nextNormal()) * (i < 64 ? 1 : 0.01) }
        let q = WeightRangeSearch.symmetricWeights(w, shape: [4, 64], axis: 0)
        let plain = ConstantQuantizer.symmetricWeights(w, shape: [4, 64], axis: 0)
        let scales = q.type.quantization!.scales, plainScales = plain.type.quantization!.scales
        XCTAssertEqual(scales.count, 4)
        for c in 0..<4 {
            let channel = Array(w[(c * 64)..<((c + 1) * 64)])
            XCTAssertLessThanOrEqual(scales[c], plainScales[c])
            XCTAssertLessThanOrEqual(WeightRangeSearch.error(channel, scale: scales[c]), WeightRangeSearch.error(channel, scale: plainScales[c]))
        }
        let zero = WeightRangeSearch.symmetricWeights([0, 0, 0], shape: [3], axis: nil)
        XCTAssertEqual(zero.type.quantization!.scales, [1])
    }
}

/// The CLI flags (QuantizeCLITests' fixtures and temporary folder).
extension QuantizeCLITests {
    func testMSERangesAreByteIdenticalAcrossRuns() throws {
        let a = dir.appendingPathComponent("a.tflite").path, b = dir.appendingPathComponent("b.tflite").path
        let r = try runTool([float, "--quantize", "int8", "--calibration", calib, "--ranges", "mse", "--weight-search", "-o", a])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("calibration: \(calib) (16 samples), mse"), r.stderr)
        XCTAssertEqual(try runTool([float, "--quantize", "int8", "--calibration", calib, "--ranges", "mse", "--weight-search", "-o", b]).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a)), try Data(contentsOf: URL(fileURLWithPath: b)))
        let m = try TFLiteImporter.load(path: a)
        XCTAssertEqual(Verifier.verify(m).map(\.description), [])
    }

    /// micro_speech's CONV_2D (RELU) → RESHAPE → FULLY_CONNECTED is one pair; the model is valid.
    func testEqualizeReportsPairs() throws {
        let out = dir.appendingPathComponent("e.tflite").path
        let r = try runTool([float, "--quantize", "int8", "--calibration", calib, "--equalize", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("cross-layer equalization: 1 layer pair\n"), r.stderr)
        XCTAssertEqual(Verifier.verify(try TFLiteImporter.load(path: out)).map(\.description), [])
    }

    func testPercentileSpellingsAgree() throws {
        let a = dir.appendingPathComponent("a.tflite").path, b = dir.appendingPathComponent("b.tflite").path
        XCTAssertEqual(try runTool([float, "--quantize", "int8", "--calibration", calib, "--ranges", "percentile:99.9", "-o", a]).status, 0)
        XCTAssertEqual(try runTool([float, "--quantize", "int8", "--calibration", calib, "--percentile", "99.9", "-o", b]).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a)), try Data(contentsOf: URL(fileURLWithPath: b)))
    }

    func testRangeFlagErrors() throws {
        let out = dir.appendingPathComponent("x.tflite").path
        for args in [["--quantize", "int8", "--calibration", calib, "--ranges", "kl"],
                     ["--quantize", "int8", "--calibration", calib, "--ranges", "mse", "--percentile", "99"],
                     ["--ranges", "mse"], ["--weight-search"], ["--equalize"]] {
            let r = try runTool([float] + args + ["-o", out])
            XCTAssertEqual(r.status, 2, "\(args): \(r.stderr)")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out))
        }
        let r = try runTool([float, "--quantize", "int8", "--calibration", calib, "--ranges", "kl", "-o", out])
        XCTAssertTrue(r.stderr.contains("--ranges"), r.stderr)
    }
}
