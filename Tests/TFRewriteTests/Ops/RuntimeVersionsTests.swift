import FlatBuffers
import Foundation
import XCTest

@testable import TFRewrite

/// `min_runtime_version` is what TF's converter writes (runtime_version.cc's
/// UpdateMinimumRuntimeVersionForModel over the op versions): checked on every fixture TF wrote.
final class RuntimeVersionsTests: XCTestCase {
    func stored(_ model: Model) -> String? {
        model.metadata(named: RuntimeVersions.metadataName).map { String(decoding: $0.array.prefix { $0 != 0 }, as: UTF8.self) }
    }

    func tfliteFixtures() throws -> [URL] {
        let root = TestPaths.fixtures
        let walker = try XCTUnwrap(FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil))
        return walker.compactMap { $0 as? URL }.filter { $0.pathExtension == "tflite" }.sorted { $0.path < $1.path }
    }

    func testTableNamesAreBuiltinOps() {
        for (name, releases) in RuntimeVersions.table {
            XCTAssertEqual(BuiltinOperator(name: name)?.name, name)
            XCTAssertFalse(releases.isEmpty, name)
        }
    }

    /// Every fixture's stored string is recomputed exactly from its op versions. Before the
    /// table held WHILE, VAR_HANDLE, CALL_ONCE and DENSIFY, the recurrent loops ("1.15.0"),
    /// the resource-variable model ("2.6.0") and the sparse models ("2.2.0") came out lower.
    func testRecomputesWhatTheConverterWroteOnEveryFixture() throws {
        var checked = 0
        for url in try tfliteFixtures() {
            let model = try TFLiteImporter.load(path: url.path)
            guard let written = stored(model), !written.isEmpty else { continue }
            XCTAssertEqual(RuntimeVersions.minimumRuntime(of: model), written, url.lastPathComponent)
            checked += 1
        }
        XCTAssertGreaterThan(checked, 30)
    }

    /// legalize-op-versions keeps a WHILE model's "1.15.0" (it used to rewrite it "1.14.0").
    func testLegalizeKeepsTheLoopRelease() throws {
        var model = try TFLiteImporter.load(path: TestPaths.fixtures.appendingPathComponent("recurrent/gru_loop_float.tflite").path)
        XCTAssertEqual(stored(model), "1.15.0")
        var pass = LegalizeOpVersions(checkTarget: false)
        var context = PassContext()
        _ = try pass.run(on: &model, context: &context)
        XCTAssertEqual(stored(model), "1.15.0")
        XCTAssertEqual(model.metadata(named: RuntimeVersions.metadataName)?.count, RuntimeVersions.metadataSize)
    }

    /// A rewrite that lowers op versions lowers the string with them: grouped CONV_2D v6
    /// ("2.9.0") split by ungroup-conv into CONV_2D v1 and friends is "1.14.0" (FULLY_CONNECTED v4).
    func testUngroupedConvolutionNeedsAnOlderRuntime() throws {
        var model = try TFLiteImporter.load(path: TestPaths.fixtures.appendingPathComponent("repair/grouped_conv_g4_int8.tflite").path)
        XCTAssertEqual(stored(model), "2.9.0")
        var context = PassContext()
        var ungroup = UngroupConv()
        _ = try ungroup.run(on: &model, context: &context)
        var legalize = LegalizeOpVersions(checkTarget: false)
        _ = try legalize.run(on: &model, context: &context)
        XCTAssertEqual(stored(model), "1.14.0")
    }
}
