import FlatBuffers
import Foundation
import XCTest

@testable import TFRewrite

final class RoundTripTests: XCTestCase {
    /// import → export → import gives the same IR, and a second export the same bytes.
    func checkRoundTrip(_ url: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        let a = try TFLiteImporter.load(path: url.path)
        XCTAssertEqual(Verifier.verify(a), [], "verifier on \(url.lastPathComponent)", file: file, line: line)
        let bytes = TFLiteExporter.serialize(a).bytes()
        let b = try TFLiteImporter.decode(ByteStorage(bytes))
        XCTAssertEqual(IRPrinter.print(a), IRPrinter.print(b), url.lastPathComponent, file: file, line: line)
        XCTAssertEqual(ModelReport(model: a, path: "m").json(), ModelReport(model: b, path: "m").json(), url.lastPathComponent, file: file, line: line)
        XCTAssertEqual(bytes, TFLiteExporter.serialize(b).bytes(), "second serialization differs: \(url.lastPathComponent)", file: file, line: line)
        // Every buffer's data starts 16-byte aligned in the file.
        let reread = try TFLiteImporter.decode(ByteStorage(bytes))
        for buf in reread.buffers {
            if let d = buf.data, !d.isEmpty { XCTAssertEqual(d.range.lowerBound % 16, 0, "unaligned buffer in \(url.lastPathComponent)", file: file, line: line) }
        }
    }

    func testCorpusModelsRoundTrip() throws {
        let models = try TestPaths.corpusModels()
        XCTAssertFalse(models.isEmpty)
        for m in models { try checkRoundTrip(m) }
    }

    func testFixtureModelsRoundTrip() throws {
        let models = TestPaths.fixtureModels()
        XCTAssertFalse(models.isEmpty, "no fixtures found under \(TestPaths.fixtures.path)")
        for m in models { try checkRoundTrip(m) }
    }

    func testTinyModelGolden() throws {
        let m = tinyFullyConnectedModel()
        let bytes = TFLiteExporter.serialize(m).bytes()
        let back = try TFLiteImporter.decode(ByteStorage(bytes))
        XCTAssertEqual(IRPrinter.print(back), """
            subgraph 0 "main"
              input %0 "x": f32[1,4]
              const %1 "w": f32[3,4] = [-1.0, -0.75, -0.5, -0.25, 0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 1.75]
              const %2 "b": f32[3] = [0.5, -0.5, 0.25]
              #0 FULLY_CONNECTED v1 {act=RELU} (%0, %1, %2) -> %3 "y": f32[1,3]
              output %3

            """)
    }

    func testOpcodesAbove127UseBothFields() throws {
        var m = tinyFullyConnectedModel()
        let y = m.main.outputs[0]
        let z = m.main.addValue(Value(name: "z", type: ElementType(.float32), shape: [1, 3]))
        // CUMSUM (128) needs builtin_code; deprecated_builtin_code holds 127.
        m.main.addOp(Op(kind: .builtin(BuiltinOperator(150), options: nil), inputs: [y], outputs: [z]))
        m.main.outputs = [z]
        let bytes = TFLiteExporter.serialize(m).bytes()
        let r = FlatBufferReader(UnsafeRawBufferPointer(start: nil, count: 0))
        _ = r
        let back = try TFLiteImporter.decode(ByteStorage(bytes))
        XCTAssertEqual(back.main.ops[1].builtinOperator.name, "GELU")
        try bytes.withUnsafeBytes { raw in
            let root = try FlatBufferReader(raw).root(fileIdentifier: "TFL3")
            let codes = try root.tables(1)!
            let gelu = codes.first { (try? $0.scalar(3, default: Int32(0))) == 150 }
            XCTAssertNotNil(gelu)
            XCTAssertEqual(try gelu!.scalar(0, default: Int8(0)), 127)
        }
    }
}
