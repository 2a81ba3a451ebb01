import Foundation
import XCTest

@testable import TFRewrite

/// The profiles scripts/measure-tflm-profile.py writes: `op_types` and `grouped_conv` load,
/// and check and the honest-exit target check report an op whose type the measured kernel
/// did not run.
final class MeasuredProfileTests: XCTestCase {
    func load(_ yaml: String) throws -> TargetProfile {
        let dir = try TestPaths.temporaryDirectory()
        let path = dir.appendingPathComponent("p.yaml").path
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        let target = try RuleSet.load([path]).target
        return try XCTUnwrap(target)
    }

    let profile = """
        target:
          runtime: tflm
          source: "test"
          ops: { ADD: any, CONV_2D: any, ELU: any }
          op_types: { ADD: [float32, int8], ELU: [float32, int8] }
          quantization: { grouped_conv: false }
        """

    func testOpTypesAndGroupedConvLoad() throws {
        let t = try load(profile)
        XCTAssertEqual(t.opTypes["ADD"], [.float32, .int8])
        XCTAssertNil(t.opTypes["CONV_2D"])
        XCTAssertFalse(t.quantization.groupedConv)
    }

    func testBadOpTypesAreRefusedAtTheirLine() throws {
        let bad = profile.replacingOccurrences(of: "ELU: [float32, int8]", with: "ELU: [float32, int9]")
        XCTAssertThrowsError(try load(bad)) { XCTAssertTrue("\($0)".contains("op_types: ELU: unknown tensor type"), "\($0)") }
        let unknownOp = profile.replacingOccurrences(of: "ELU: [float32", with: "ELLU: [float32")
        XCTAssertThrowsError(try load(unknownOp)) { XCTAssertTrue("\($0)".contains("unknown op 'ELLU'"), "\($0)") }
    }

    /// ELU on int16 is what TFLM's elu.cc refuses ("ELU only supports float32 and int8").
    func testAnUnmeasuredTypeIsAnErrorInCheckAndTheTargetCheck() throws {
        let t = try load(profile)
        let i16 = TensorSpec.act(.int16, [1, 4], q: .perTensor(scale: 0.001, zeroPoint: 0))
        let model = oneOpModel(.builtin(BuiltinOperator(name: "ELU")!, options: nil), inputs: [i16], outputs: [i16])
        let findings = ModelCheck.run(model, target: t).errors
        XCTAssertEqual(findings.map(\.code), ["op-type"])
        XCTAssertEqual(findings.first?.problem, "computes in int16, which the target's ELU kernel does not run (measured: float32, int8)")
        let problems = TargetCheck.problems(model, target: t, kernels: true)
        XCTAssertEqual(problems.map(\.description), ["ELU #0: computes in int16, which the target's ELU kernel does not run (measured: float32, int8)"])
        // The same op in int8 runs; an op without op_types is not restricted by type.
        let i8 = TensorSpec.i8([1, 4])
        XCTAssertTrue(ModelCheck.run(oneOpModel(.builtin(BuiltinOperator(name: "ELU")!, options: nil), inputs: [i8], outputs: [i8]), target: t).errors.isEmpty)
    }

    func testAGroupedConvolutionIsAnErrorWhenTheProfileSaysSo() throws {
        let t = try load(profile)
        let model = oneOpModel(.conv2D(Conv2DAttributes(padding: .valid, strideW: 1, strideH: 1)), inputs: [.act(.float32, [1, 3, 3, 4]), .const(.float32, [4, 1, 1, 2]), .const(.float32, [4])],
                               outputs: [.act(.float32, [1, 3, 3, 4])])
        let findings = ModelCheck.run(model, target: t).errors
        XCTAssertEqual(findings.map(\.code), ["grouped-conv"])
        XCTAssertEqual(findings.first?.fixPass, "ungroup-conv")
        XCTAssertEqual(TargetCheck.problems(model, target: t, kernels: true).count, 1)
    }

    /// The generated profiles load, measured what every TFLM build has, and cite their wheel.
    func testGeneratedProfilesLoad() throws {
        for name in BuiltinRules.names where name.hasPrefix("micro_20") || name == "micro_latest" {
            let t = try XCTUnwrap(RuleSet.load([name]).target, name)
            XCTAssertTrue(t.source?.contains("tflite-micro wheel 0.dev") ?? false, name)
            XCTAssertEqual(t.opTypes["CONV_2D"].map { $0.isSuperset(of: [.float32, .int8]) }, true, name)
            XCTAssertEqual(t.opTypes["FULLY_CONNECTED"].map { $0.isSuperset(of: [.float32, .int8]) }, true, name)
            XCTAssertFalse(t.quantization.hybrid, name)
        }
    }
}
