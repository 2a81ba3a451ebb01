import FlatBuffers
import XCTest

@testable import TFRewrite

final class StripTests: XCTestCase {
    func model() -> Model {
        var b = PassGraphBuilder()
        let x = b.input("serving_default_x:0", int8Type(0.5, 0), [1, 4])
        b.graph.values[x.index].type.quantization?.min = [-64]
        b.graph.values[x.index].type.quantization?.max = [63.5]
        let w = b.constant("a/long/name/for/the/weights", ConstantTensor(.int8, shape: [2, 4], values: [Int8](repeating: 3, count: 8), quantization: .perTensor(scale: 0.1, zeroPoint: 0)))
        let y = b.value("StatefulPartitionedCall:0", int8Type(0.2, 1), [1, 2])
        let h = b.value("hidden", int8Type(0.2, 1), [1, 2])
        b.op(.fullyConnected(FullyConnectedAttributes()), version: 4, [x, w, .absent], [h])
        b.op(.relu, version: 2, [h], [y])
        b.output(y)
        var m = b.model
        m.description = "MLIR Converted."
        let v = m.addBuffer(ByteSlice(Array("1.14.0\0".utf8)))
        let c = m.addBuffer(ByteSlice([UInt8](repeating: 9, count: 40)))
        let o = m.addBuffer(ByteSlice([0, 0, 0, 0]))
        m.metadata = [Metadata(name: "min_runtime_version", buffer: v), Metadata(name: "CONVERSION_METADATA", buffer: c), Metadata(name: "OfflineMemoryAllocation", buffer: o)]
        return m
    }

    func testDefaultsGolden() throws {
        let given = model()
        var m = given
        var ctx = PassContext()
        XCTAssertTrue(try runVerified([Strip()], on: &m, context: &ctx))
        GoldenIR.check("strip.default", given: given, passes: "strip", result: m)
        XCTAssertNil(m.description)
        XCTAssertEqual(m.subgraphs[0].values[0].quantization?.min, [])
        XCTAssertEqual(m.metadata.count, 3, "metadata stays unless asked")
        let saved = ctx.statistics["strip.bytes-saved"] ?? 0
        XCTAssertEqual(saved, TFLiteExporter.serialize(given).totalSize - TFLiteExporter.serialize(m).totalSize)
        XCTAssertGreaterThan(saved, 40)
        XCTAssertTrue(ctx.notes.contains("strip: saved \(saved) bytes (\(TFLiteExporter.serialize(given).totalSize) → \(TFLiteExporter.serialize(m).totalSize))"), "\(ctx.notes)")
        XCTAssertFalse(try runVerified([Strip()], on: &m), "a second strip has nothing left to do")
    }

    func testShortNamesAndAllNames() throws {
        var m = model()
        try runVerified([try Strip(options: PassOptions(["names": .string("short"), "keep_io_names": .bool(false)]))], on: &m)
        XCTAssertEqual(m.subgraphs[0].values.map(\.name), ["t0", "t1", "t2", "t3"])
        var k = model()
        try runVerified([try Strip(options: PassOptions(["names": .string("keep")]))], on: &k)
        XCTAssertEqual(k.subgraphs[0].values.map(\.name), model().subgraphs[0].values.map(\.name))
    }

    func testMetadataTrueDropsConverterEntriesAndBuffers() throws {
        var m = model()
        let buffers = m.buffers.count
        try runVerified([try Strip(options: PassOptions(["metadata": .bool(true)]))], on: &m)
        XCTAssertEqual(m.metadata.map(\.name), ["OfflineMemoryAllocation"])
        XCTAssertEqual(m.buffers.count, buffers - 2)
        XCTAssertEqual(m.metadata(named: "OfflineMemoryAllocation")?.array, [0, 0, 0, 0])
        var l = model()
        try runVerified([try Strip(options: PassOptions(["metadata": .list([.string("CONVERSION_METADATA")])]))], on: &l)
        XCTAssertEqual(l.metadata.map(\.name), ["min_runtime_version", "OfflineMemoryAllocation"])
    }

    func testOptionErrors() {
        XCTAssertThrowsError(try Strip(options: PassOptions(["names": .string("none")], location: "s.yaml:1"))) { e in
            XCTAssertEqual("\(e)", "s.yaml:1: pass strip: option 'names': expected one of empty, short, keep, got none")
        }
        XCTAssertThrowsError(try Strip(options: PassOptions(["metadata": .list([.string("OfflineMemoryAllocation")])], location: "s.yaml:2"))) { e in
            XCTAssertEqual("\(e)", "s.yaml:2: pass strip: option 'metadata': OfflineMemoryAllocation holds TFLM's offline memory plan and is never stripped")
        }
        XCTAssertThrowsError(try Strip(options: PassOptions(["metadata": .int(1)]))) { e in
            XCTAssertEqual("\(e)", "pass strip: option 'metadata': expected true, false or a list of metadata names, got 1")
        }
    }

    func testFixturesShrinkAndStillImport() throws {
        let models = TestPaths.fixtureModels().filter { !$0.path.contains("/reference/") }
        if models.isEmpty { throw XCTSkip("no fixture models under \(TestPaths.fixtures.path)") }
        for url in models {
            var m = try TFLiteImporter.load(path: url.path)
            var ctx = PassContext()
            try runVerified([try Strip(options: PassOptions(["metadata": .bool(true)]))], on: &m, context: &ctx)
            XCTAssertGreaterThan(ctx.statistics["strip.bytes-saved"] ?? 0, 0, url.lastPathComponent)
            let back = try exportAndImport(m)
            // Other metadata stays (the float16 exports' reduced_precision_support).
            XCTAssertEqual(back.metadata.filter { Strip.converterMetadata.contains($0.name) }.map(\.name), [], url.lastPathComponent)
            XCTAssertTrue(back.subgraphs[0].values.allSatisfy { $0.name.isEmpty || back.subgraphs[0].inputs.contains(ValueID(back.subgraphs[0].values.firstIndex(of: $0)!)) || back.subgraphs[0].outputs.contains(ValueID(back.subgraphs[0].values.firstIndex(of: $0)!)) })
        }
    }
}
