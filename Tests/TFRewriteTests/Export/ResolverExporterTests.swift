import Foundation
import XCTest

@testable import TFRewrite

final class ResolverExporterTests: XCTestCase {
    /// The `op_resolver.AddX(...)` calls of a generated header, in order.
    func calls(_ header: String) -> [String] {
        header.split(separator: "\n").compactMap { line -> String? in
            guard let r = line.range(of: "op_resolver.") else { return nil }
            let rest = line[r.upperBound...]
            return rest.firstIndex(of: "(").map { String(rest[..<$0]) }
        }
    }

    func testMethodNamesFollowTheTFLMResolver() {
        let expected: [String: String] = [
            "CONV_2D": "AddConv2D", "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D", "FULLY_CONNECTED": "AddFullyConnected",
            "RESHAPE": "AddReshape", "SOFTMAX": "AddSoftmax", "AVERAGE_POOL_2D": "AddAveragePool2D", "MAX_POOL_2D": "AddMaxPool2D",
            "BATCH_TO_SPACE_ND": "AddBatchToSpaceNd", "L2_POOL_2D": "AddL2Pool2D", "L2_NORMALIZATION": "AddL2Normalization",
            "PADV2": "AddPadV2", "CUMSUM": "AddCumSum", "ADD_N": "AddAddN", "RELU6": "AddRelu6", "SPLIT_V": "AddSplitV",
            "SELECT_V2": "AddSelectV2", "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM", "SVDF": "AddSvdf",
            "BATCH_MATMUL": "AddBatchMatMul", "LOG_SOFTMAX": "AddLogSoftmax", "QUANTIZE": "AddQuantize", "HARD_SWISH": "AddHardSwish",
        ]
        for (op, method) in expected {
            XCTAssertEqual(ResolverExporter.method(for: BuiltinOperator(name: op)!), method, op)
        }
        XCTAssertNil(ResolverExporter.method(for: BuiltinOperator(name: "TOPK_V2")!), "TFLM has no TOPK_V2 kernel")
    }

    func testResolverListsExactlyTheModelsOps() throws {
        for url in TestPaths.fixtureModels() {
            let m = try TFLiteImporter.load(path: url.path)
            let header = ResolverExporter.render(m, name: "model", headerName: "resolver.h")
            let ops = Set(m.subgraphs.flatMap { $0.ops.filter { !$0.isErased }.map(\.builtinOperator) })
            // DENSIFY (the sparse fixtures) has no TFLM kernel: the header says so instead.
            if ops.contains(where: { ResolverExporter.method(for: $0) == nil }) {
                XCTAssertTrue(header.contains("#error"), url.lastPathComponent)
                continue
            }
            XCTAssertEqual(calls(header).sorted(), ops.compactMap { ResolverExporter.method(for: $0) }.sorted(), url.lastPathComponent)
            XCTAssertEqual(calls(header).count, ops.count, url.lastPathComponent)
            XCTAssertTrue(header.contains("constexpr unsigned int kModelOpCount = \(ops.count);"), header)
            XCTAssertTrue(header.contains("using ModelOpResolver = tflite::MicroMutableOpResolver<kModelOpCount>;"))
        }
    }

    func testCustomOpsAndMissingKernels() {
        var m = oneOpModel(.custom(code: "SignalPCAN"), inputs: [.act(.int16, [4])], outputs: [.act(.int16, [4])])
        let g = m.subgraphs[0]
        m.subgraphs[0].addOp(Op(kind: .custom(code: "ethos-u"), inputs: [g.outputs[0]], outputs: [m.subgraphs[0].addValue(Value(name: "e", type: ElementType(.int8), shape: [4]))]))
        let z = m.subgraphs[0].addValue(Value(name: "z", type: ElementType(.int8), shape: [4]))
        m.subgraphs[0].addOp(Op(kind: .builtin(BuiltinOperator(name: "TOPK_V2")!, options: nil), inputs: [ValueID(2)], outputs: [z]))
        let header = ResolverExporter.render(m, name: "audio_front", headerName: "front.h")
        // TFLM registers its signal library's ops with methods of their own (AddPCAN for "SignalPCAN").
        XCTAssertEqual(calls(header), ["AddPCAN", "AddEthosU"])
        XCTAssertFalse(header.contains("RegisterCustomOp_"), header)
        XCTAssertTrue(header.contains("#error \"TFLM has no kernel for the builtin operator TOPK_V2"), header)
        XCTAssertTrue(header.contains("constexpr unsigned int kAudioFrontOpCount = 3;"), header)
    }

    /// Compiles a generated header against a stand-in for TFLM's resolver header that declares
    /// only the methods the header calls, so a typo in the generated C++ fails here.
    func testEveryTFLMCustomOpUsesItsOwnMethod() {
        for def in CustomOperatorTable.all {
            let m = oneOpModel(.custom(code: def.code), inputs: [.act(.int16, [4])], outputs: [.act(.int16, [4])])
            let header = ResolverExporter.render(m, name: "one", headerName: "one.h")
            XCTAssertEqual(calls(header), [def.resolverMethod ?? "AddCustom"], def.code)
        }
    }

    func testHeaderCompilesAgainstAStubResolver() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/c++") else { throw XCTSkip("no c++: skipped") }
        var m = try TFLiteImporter.load(path: TestPaths.fixtures.appendingPathComponent("ds_cnn_int8.tflite").path)
        m.subgraphs[0].addOp(Op(kind: .custom(code: "My Op"), inputs: [m.subgraphs[0].outputs[0]], outputs: [m.subgraphs[0].addValue(Value(name: "c", type: ElementType(.int8), shape: [1]))]))
        let header = ResolverExporter.render(m, name: "ds_cnn", headerName: "ds_resolver.h")
        let dir = try TestPaths.temporaryDirectory()
        let stubDir = dir.appendingPathComponent("tensorflow/lite/micro")
        try FileManager.default.createDirectory(at: stubDir, withIntermediateDirectories: true)
        let methods = Set(calls(header)).subtracting(["AddCustom"]).sorted()
        let stub = """
            #pragma once
            enum TfLiteStatus { kTfLiteOk, kTfLiteError };
            namespace tflite {
            struct TFLMRegistration {};
            template <unsigned int N> class MicroMutableOpResolver {
             public:
              static_assert(N > 0, "N");
              TfLiteStatus AddCustom(const char*, const TFLMRegistration*) { return kTfLiteOk; }
            \(methods.map { "  TfLiteStatus \($0)() { return kTfLiteOk; }" }.joined(separator: "\n"))
            };
            }
            """
        try stub.write(to: stubDir.appendingPathComponent("micro_mutable_op_resolver.h"), atomically: true, encoding: .utf8)
        try header.write(to: dir.appendingPathComponent("ds_resolver.h"), atomically: true, encoding: .utf8)
        try """
            #include "ds_resolver.h"
            tflite::TFLMRegistration* RegisterCustomOp_My_Op() { static tflite::TFLMRegistration r; return &r; }
            int main() { DsCnnOpResolver r; return RegisterDsCnnOps(r) == kTfLiteOk ? 0 : 1; }
            """.write(to: dir.appendingPathComponent("main.cc"), atomically: true, encoding: .utf8)
        let build = try shell("/usr/bin/c++", ["-std=c++17", "-I", dir.path, "main.cc", "-o", "main"], in: dir)
        XCTAssertEqual(build.status, 0, build.stderr)
        XCTAssertEqual(try shell(dir.appendingPathComponent("main").path, [], in: dir).status, 0)
    }
}

/// The resolver follows the era of the target: micro_versioned_2020 gets the TF 1.15–2.2
/// `MicroMutableOpResolver` (a plain class, `AddBuiltin(op, registration, min, max)`).
final class ResolverEraTests: XCTestCase {
    func testTargetChoosesTheAPI() throws {
        XCTAssertEqual(ResolverAPI.forTarget(try RuleSet.load(["micro"]).target), .current)
        XCTAssertEqual(ResolverAPI.forTarget(try RuleSet.load(["micro_speech"]).target), .current)
        XCTAssertEqual(ResolverAPI.forTarget(try RuleSet.load(["micro_versioned_2020"]).target), .versioned2020)
        XCTAssertEqual(ResolverAPI.forTarget(nil), .current)
    }

    /// The 2020 header compiles against a stand-in with that era's class and signatures, and
    /// registers exactly the versions the model uses.
    func testVersioned2020HeaderCompilesAgainstTheOldResolver() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/c++") else { throw XCTSkip("no c++: skipped") }
        let m = try TFLiteImporter.load(path: TestPaths.fixtures.appendingPathComponent("micro_speech_int8.tflite").path)
        let target = try RuleSet.load(["micro_versioned_2020"]).target
        let header = ResolverExporter.render(m, name: "ds_cnn", headerName: "ds_resolver.h", target: target)
        XCTAssertTrue(header.contains("using DsCnnOpResolver = tflite::MicroMutableOpResolver;"), header)
        XCTAssertFalse(header.contains("MicroMutableOpResolver<"), header)
        for r in ResolverExporter.registrations(m) {
            let line = "op_resolver.AddBuiltin(tflite::BuiltinOperator_\(r.op), tflite::ops::micro::Register_\(r.op)(), \(r.versions.first!), \(r.versions.last!));"
            XCTAssertTrue(header.contains(line), "\(line) missing:\n\(header)")
        }
        let dir = try TestPaths.temporaryDirectory()
        let stubDir = dir.appendingPathComponent("tensorflow/lite/micro")
        try FileManager.default.createDirectory(at: stubDir, withIntermediateDirectories: true)
        let ops = ResolverExporter.registrations(m).map(\.op)
        try """
            #pragma once
            struct TfLiteRegistration { int version; };
            namespace tflite {
            enum BuiltinOperator { \(ops.map { "BuiltinOperator_\($0)" }.joined(separator: ", ")) };
            class MicroMutableOpResolver {
             public:
              void AddBuiltin(BuiltinOperator op, TfLiteRegistration* registration, int min_version = 1, int max_version = 1) { count += max_version - min_version + 1; }
              int count = 0;
            };
            }
            """.write(to: stubDir.appendingPathComponent("micro_mutable_op_resolver.h"), atomically: true, encoding: .utf8)
        try header.write(to: dir.appendingPathComponent("ds_resolver.h"), atomically: true, encoding: .utf8)
        let definitions = ops.map { "TfLiteRegistration* tflite::ops::micro::Register_\($0)() { static TfLiteRegistration r; return &r; }" }.joined(separator: "\n")
        try """
            #include "ds_resolver.h"
            \(definitions)
            int main() { DsCnnOpResolver r; RegisterDsCnnOps(r); return r.count > 0 ? 0 : 1; }
            """.write(to: dir.appendingPathComponent("main.cc"), atomically: true, encoding: .utf8)
        let build = try shell("/usr/bin/c++", ["-std=c++11", "-Wall", "-Werror", "-I", dir.path, "main.cc", "-o", "main"], in: dir)
        XCTAssertEqual(build.status, 0, build.stderr)
        XCTAssertEqual(try shell(dir.appendingPathComponent("main").path, [], in: dir).status, 0)
    }

    /// An op the 2020 firmware has no kernel for is an #error, not a silent link failure.
    func testVersioned2020MissingKernelIsAnError() throws {
        var m = try TFLiteImporter.load(path: TestPaths.fixtures.appendingPathComponent("ds_cnn_int8.tflite").path)
        let g = m.subgraphs[0]
        m.subgraphs[0].addOp(Op(kind: .tanh, inputs: [g.outputs[0]], outputs: [m.subgraphs[0].addValue(Value(name: "t", type: ElementType(.int8), shape: [1]))]))
        let header = ResolverExporter.render(m, name: "m", headerName: "m.h", target: try RuleSet.load(["micro_versioned_2020"]).target)
        XCTAssertTrue(header.contains("#error \"this TFLM has no kernel for the builtin operator TANH"), header)
    }
}
