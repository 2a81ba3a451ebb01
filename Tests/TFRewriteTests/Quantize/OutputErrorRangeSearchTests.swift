import Foundation
import XCTest

@testable import TFRewrite

/// `--ranges search`: ranges chosen by the int8 model's output error on the calibration samples.
final class OutputErrorRangeSearchTests: XCTestCase {
    private func microSpeech() throws -> (Model, SampleSet) {
        let model = try TFLiteImporter.load(path: TestPaths.fixtures.appendingPathComponent("micro_speech_float.tflite").path)
        let samples = try SampleData.load(TestPaths.fixtures.appendingPathComponent("calib/micro_speech_calib.npy").path,
                                          for: ModelInputSpec.inputs(of: model))
        return (model, samples)
    }

    func testParsing() throws {
        XCTAssertEqual(try RangeMethod(parsing: "search"), .search)
        XCTAssertEqual(RangeMethod.search.description, "search (by output error)")
    }

    /// The chosen ranges' output error, measured again from scratch, is the one reported, below
    /// min/max's and not above it on either half of the samples; a second run chooses the same.
    func testChoiceLowersTheMeasuredErrorOnBothHalves() throws {
        let (model, samples) = try microSpeech()
        let calibrated = try Calibrator.calibrate(model, samples: samples, ranges: .search)
        XCTAssertEqual(calibrated.alternatives.count, 3)
        let options = QuantizationOptions()
        let (chosen, report) = try OutputErrorRangeSearch.run(model, ranges: calibrated, samples: samples, options: options)
        let evaluator = try MixedPrecisionSearch.ErrorEvaluator(float: model, samples: samples)
        func errors(_ table: RangeTable) throws -> OutputErrorRangeSearch.Errors {
            OutputErrorRangeSearch.Errors(try evaluator.sampleErrors(of: Int8Quantizer.quantize(model, ranges: table, options: options).0))
        }
        var minMax = calibrated
        minMax.alternatives = []
        let before = try errors(minMax), after = try errors(chosen)
        XCTAssertEqual(report.errorBefore, before.all, accuracy: 1e-12)
        XCTAssertEqual(report.errorAfter, after.all, accuracy: 1e-12)
        XCTAssertGreaterThan(report.changedTensors, 0)
        XCTAssertLessThan(after.all, before.all)
        XCTAssertLessThanOrEqual(after.even, before.even)
        XCTAssertLessThanOrEqual(after.odd, before.odd)
        XCTAssertEqual(try OutputErrorRangeSearch.run(model, ranges: calibrated, samples: samples, options: options).0.ranges, chosen.ranges)
    }

    /// At the model limit the sweep stops and says so. Four models are the min/max one and the
    /// three whole-model alternatives, so no tensor was searched on its own: every range comes
    /// from one method.
    func testLimitStopsTheSweep() throws {
        let (model, samples) = try microSpeech()
        let calibrated = try Calibrator.calibrate(model, samples: samples, ranges: .search)
        let (chosen, report) = try OutputErrorRangeSearch.run(model, ranges: calibrated, samples: samples, options: QuantizationOptions(), maxEvaluations: 4)
        XCTAssertTrue(report.limitReached)
        XCTAssertEqual(report.evaluations, 4)
        XCTAssertTrue(report.lines[0].contains("stopped at the limit"), report.lines[0])
        let order = OutputErrorRangeSearch.executionOrder(model, calibrated.ranges)
        let methods = [calibrated.ranges] + calibrated.alternatives
        XCTAssertTrue(methods.contains { m in order.allSatisfy { chosen.ranges[$0] == (m[$0] ?? calibrated.ranges[$0]) } })
    }

    /// Error split: even and odd sample positions, each a mean over its elements.
    func testErrorsSplitIntoHalves() {
        let e = OutputErrorRangeSearch.Errors([(4, 2), (1, 1), (2, 2), (9, 1)])
        XCTAssertEqual(e.all, 16.0 / 6)
        XCTAssertEqual(e.even, 6.0 / 4)
        XCTAssertEqual(e.odd, 10.0 / 2)
        XCTAssertTrue(OutputErrorRangeSearch.Errors([(3, 2), (1, 1), (2, 2), (9, 1)]).improves(on: e))
        XCTAssertFalse(OutputErrorRangeSearch.Errors([(0, 2), (1, 1), (2, 2), (9.5, 1)]).improves(on: e))  // odd half worse
    }
}

extension QuantizeCLITests {
    func testRangeSearchIsByteIdenticalAcrossRunsAndReports() throws {
        let a = dir.appendingPathComponent("a.tflite").path, b = dir.appendingPathComponent("b.tflite").path
        let r = try runTool([float, "--quantize", "int8", "--calibration", calib, "--ranges", "search", "-o", a])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("calibration: \(calib) (16 samples), search (by output error)"), r.stderr)
        XCTAssertTrue(r.stderr.contains("range search: "), r.stderr)
        XCTAssertEqual(try runTool([float, "--quantize", "int8", "--calibration", calib, "--ranges", "search", "-o", b]).status, 0)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: a)), try Data(contentsOf: URL(fileURLWithPath: b)))
        XCTAssertEqual(Verifier.verify(try TFLiteImporter.load(path: a)).map(\.description), [])
    }
}
