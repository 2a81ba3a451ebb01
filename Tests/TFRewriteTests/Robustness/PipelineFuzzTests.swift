import FlatBuffers
import Foundation
import XCTest

@testable import TFRewrite

/// Seeded mutations of the fixture models through the whole pipeline, in process: load
/// (GraphDef import passes, or the .tflite importer), the `micro` rules, int8 quantization on
/// one random sample, the exporter. Each step may refuse the input with an error; none may
/// trap — a trap ends the test process, which fails the run visibly. The mutations are the
/// ones that found a crash in a longer campaign with the CLI (an input shape whose random
/// sample needed 618 GB): bit flips, special bytes, overlong varints, truncation and splices.
final class PipelineFuzzTests: XCTestCase {
    /// Mutations per seed file; the debug build runs them in a few seconds.
    static let mutationsPerSeed = 60

    static func mutate(_ bytes: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
        var b = bytes
        guard !b.isEmpty else { return b }
        func position() -> Int { Int(rng.next() % UInt64(b.count)) }
        switch rng.next() % 6 {
        case 0, 1:
            for _ in 0...(rng.next() % 4) { b[position()] ^= UInt8(1) << UInt8(rng.next() % 8) }
        case 2:
            let specials: [UInt8] = [0, 0xff, 0x7f, 0x80, 0x01]
            for _ in 0...(rng.next() % 3) { b[position()] = specials[Int(rng.next() % UInt64(specials.count))] }
        case 3:
            // An overlong or huge varint where a length, a dimension or a field key was.
            let i = position()
            b.replaceSubrange(i..<(i + 1), with: [UInt8](repeating: 0xff, count: 1 + Int(rng.next() % 9)) + [0x07])
        case 4:
            b = Array(b.prefix(position()))
        default:
            let i = position(), j = position(), n = 1 + Int(rng.next() % 64)
            let chunk = Array(b[j..<min(b.count, j + n)])
            b.replaceSubrange(i..<min(b.count, i + chunk.count), with: chunk)
        }
        return b
    }

    /// Runs one (possibly broken) model file through everything a user can ask for; true when
    /// it loaded.
    static func exercise(_ path: String, rules: RuleSet) -> Bool {
        var context = PassContext(target: rules.target)
        guard let model = try? Conversion.load(path: path, context: &context) else { return false }
        _ = TFLiteExporter.serialize(model).bytes()
        _ = ModelReport(model: model, path: path).json().rendered()
        var repaired = model
        if (try? Conversion.run(rules, on: &repaired, context: &context)) != nil {
            _ = TFLiteExporter.serialize(repaired).bytes()
        }
        let request = PostTrainingQuantizationRequest(calibration: "random:1", target: rules.target)
        if let result = try? PostTrainingQuantization.run(model, request) {
            _ = TFLiteExporter.serialize(result.model).bytes()
        }
        return true
    }

    func testMutatedFixturesNeverTrap() throws {
        let rules = try RuleSet.load(["micro"])
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let seeds = ["graphdef/bn_net.pb", "graphdef/keras_dscnn.pb", "graphdef/tiny_conv.pb", "graphdef/scaled_input.pb",
                     "ds_cnn_int8.tflite", "micro_speech_float.tflite", "qdq_float_io.tflite"]
        var rng = SplitMix64(seed: 20261125)
        var loaded = 0
        for seed in seeds {
            let original = [UInt8](try Data(contentsOf: TestPaths.fixtures.appendingPathComponent(seed)))
            let path = dir.appendingPathComponent("mutated." + (seed as NSString).pathExtension).path
            for _ in 0..<Self.mutationsPerSeed {
                try Data(Self.mutate(original, &rng)).write(to: URL(fileURLWithPath: path))
                if Self.exercise(path, rules: rules) { loaded += 1 }
            }
        }
        print("pipeline fuzz: \(loaded) of \(seeds.count * Self.mutationsPerSeed) mutated models loaded")
        // Most mutations must still parse, or the pipeline behind the importers went untested.
        XCTAssertGreaterThan(loaded, seeds.count * Self.mutationsPerSeed / 4, "only \(loaded) mutated models loaded")
    }
}
