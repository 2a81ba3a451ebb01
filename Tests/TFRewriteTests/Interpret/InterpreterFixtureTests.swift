import Foundation
import XCTest

@testable import TFRewrite

/// Every Fixtures/expected/<name>_inputs.npy through the interpreter, compared with the stored
/// outputs of the real TFLM runtime (<name>_tflm.npy): int8 exactly equal, float within 1e-5.
final class InterpreterFixtureTests: XCTestCase {
    typealias S = InterpreterTestSupport

    /// Fixture name → model path relative to Fixtures/ (searched in every subfolder).
    private func modelPath(for name: String) -> String? {
        let root = S.fixtures.path
        let all = FileManager.default.enumerator(atPath: root)?.compactMap { $0 as? String } ?? []
        return all.filter { ($0 as NSString).lastPathComponent == "\(name).tflite" }.sorted { $0.count < $1.count }.first
    }

    private func expectedNames() throws -> [String] {
        let dir = S.fixtures.appendingPathComponent("expected").path
        let files = try FileManager.default.contentsOfDirectory(atPath: dir)
        // Only inputs with stored TFLM outputs.
        return files.filter { $0.hasSuffix("_inputs.npy") }.map { String($0.dropLast("_inputs.npy".count)) }
            .filter { files.contains("\($0)_tflm.npy") }.sorted()
    }

    func testEveryFixtureMatchesTFLM() throws {
        let names = try expectedNames()
        XCTAssertGreaterThanOrEqual(names.count, 11, "expected inputs for the 11 fixture models, found \(names)")
        var checked = 0
        for name in names {
            guard let path = modelPath(for: name) else {
                XCTFail("no model for Fixtures/expected/\(name)_inputs.npy")
                continue
            }
            do {
                let model = try S.load(path)
                let interpreter = try Interpreter(model: model)
                let inputs = S.samples(try S.npy("expected/\(name)_inputs.npy"))
                let expected = try S.npy("expected/\(name)_tflm.npy")
                let expectedSamples = S.samples(expected)
                XCTAssertEqual(inputs.count, expectedSamples.count, name)
                for (k, (input, want)) in zip(inputs, expectedSamples).enumerated() {
                    let got = try interpreter.run([input])[0]
                    XCTAssertEqual(got.shape, want.shape, "\(name) sample \(k)")
                    XCTAssertEqual(got.dtype, want.dtype, "\(name) sample \(k)")
                    if got.dtype == .float32 {
                        let maxDiff = zip(got.floats!, want.floats!).map { abs($0 - $1) }.max() ?? 0
                        XCTAssertLessThanOrEqual(maxDiff, 1e-5, "\(name) sample \(k): max abs diff \(maxDiff)")
                    } else {
                        XCTAssertEqual(got, want, "\(name) sample \(k) differs from TFLM")
                    }
                }
                checked += 1
            }
        }
        XCTAssertEqual(checked, names.count)
    }

    /// The comparison is not vacuous: the outputs vary across samples and a perturbed input
    /// changes the int8 output.
    func testOutputsDependOnInputs() throws {
        let model = try S.load("ds_cnn_int8.tflite")
        let interpreter = try Interpreter(model: model)
        let inputs = S.samples(try S.npy("expected/ds_cnn_int8_inputs.npy"))
        let outputs = try inputs.map { try interpreter.run([$0])[0] }
        XCTAssertGreaterThan(Set(outputs).count, 1)
        var changed = inputs[0]
        changed.storage = .int8(changed.int8s!.map { $0 == 127 ? 127 : $0 &+ 1 })
        XCTAssertNotEqual(try interpreter.run([changed])[0], outputs[0])
    }

    /// A dynamic-batch model (shape_signature [-1,49,10]) runs a batch of 3 in one call and
    /// gives each sample's single-run result.
    func testDynamicBatch() throws {
        let model = try S.load("ds_cnn_float.tflite")
        let interpreter = try Interpreter(model: model)
        XCTAssertEqual(interpreter.inputs[0].shapeSignature, [-1, 49, 10])
        let inputs = Array(S.samples(try S.npy("expected/ds_cnn_float_inputs.npy")).prefix(3))
        let singles = try inputs.map { try interpreter.run([$0])[0] }
        let batched = RuntimeTensor(shape: [3, 49, 10], floats: inputs.flatMap { $0.floats! })!
        let out = try interpreter.run([batched])[0]
        XCTAssertEqual(out.shape, [3, 12])
        for (k, s) in singles.enumerated() {
            let row = Array(out.floats![(k * 12)..<((k + 1) * 12)])
            XCTAssertEqual(row, s.floats!, "sample \(k)")
        }
    }

    /// observe sees every op output once per run, in execution order.
    func testObserveSeesEveryOpOutput() throws {
        let model = try S.load("micro_speech_int8.tflite")
        let interpreter = try Interpreter(model: model)
        let input = S.samples(try S.npy("expected/micro_speech_int8_inputs.npy"))[0]
        var seen: [ValueID] = []
        var shapes: [[Int]] = []
        let out = try interpreter.run([input]) { id, t in
            seen.append(id)
            shapes.append(t.shape)
        }
        let expected = model.main.ops.flatMap(\.outputs)
        XCTAssertEqual(seen, expected)
        XCTAssertEqual(shapes[1], [1, 25, 20, 8], "CONV_2D output")
        XCTAssertEqual(shapes.last, out[0].shape)
    }
}
