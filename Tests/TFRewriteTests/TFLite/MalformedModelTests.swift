import FlatBuffers
import Foundation
import XCTest

@testable import TFRewrite

/// Hand-made broken .tflite files: each must give exit 2, one line naming the problem and
/// where, no crash, and no output file.
final class MalformedModelTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try TestPaths.temporaryDirectory()
    }
    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    /// Writes `bytes` as a model, runs `tfrewrite M -o OUT` and `inspect`, and checks the error.
    func expectRejected(_ name: String, _ bytes: [UInt8], mentions expected: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let input = dir.appendingPathComponent("\(name).tflite")
        try Data(bytes).write(to: input)
        let output = dir.appendingPathComponent("\(name).out.tflite")
        let r = try runTool([input.path, "-o", output.path])
        XCTAssertEqual(r.status, 2, "\(name): exit status; stderr: \(r.stderr)", file: file, line: line)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "\(name): expected one line, got: \(r.stderr)", file: file, line: line)
        for e in expected {
            XCTAssertTrue(r.stderr.contains(e), "\(name): message \"\(r.stderr.trimmingCharacters(in: .newlines))\" should mention \"\(e)\"", file: file, line: line)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: output.path), "\(name): output written", file: file, line: line)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.contains(".tmp-") }
        XCTAssertEqual(leftovers, [], "\(name): temporary file left behind", file: file, line: line)
        let i = try runTool(["inspect", input.path])
        XCTAssertEqual(i.status, 2, "\(name): inspect exit status", file: file, line: line)
    }

    func valid(_ m: Model = tinyFullyConnectedModel()) -> [UInt8] { TFLiteExporter.serialize(m).bytes() }

    /// Position of a little-endian uint32/int32 marker in the bytes.
    func find(_ marker: UInt32, in bytes: [UInt8]) -> Int? {
        let m = le([marker])
        guard bytes.count >= 4 else { return nil }
        for i in 0...(bytes.count - 4) where bytes[i] == m[0] && bytes[i + 1] == m[1] && bytes[i + 2] == m[2] && bytes[i + 3] == m[3] { return i }
        return nil
    }
    func patch32(_ bytes: inout [UInt8], at pos: Int, _ v: UInt32) {
        for k in 0..<4 { bytes[pos + k] = UInt8(truncatingIfNeeded: v >> (8 * UInt32(k))) }
    }

    func testEmptyFile() throws { try expectRejected("empty", [], mentions: ["empty.tflite is empty"]) }
    func testFourBytes() throws { try expectRejected("four", [1, 2, 3, 4], mentions: ["not a TFLite model"]) }
    func testTruncatedAtHalf() throws {
        let b = valid()
        try expectRejected("half", Array(b.prefix(b.count / 2)), mentions: ["corrupt FlatBuffer", "byte"])
    }
    func testTruncatedAfterHeader() throws {
        try expectRejected("header", Array(valid().prefix(12)), mentions: ["corrupt FlatBuffer", "byte"])
    }
    func testTruncatedNearEnd() throws {
        let b = valid()
        try expectRejected("nearend", Array(b.prefix(b.count - 9)), mentions: ["byte"])
    }
    func testWrongIdentifier() throws {
        var b = valid()
        b[4...7] = [0x54, 0x46, 0x4c, 0x32]  // "TFL2"
        try expectRejected("ident", b, mentions: ["file identifier", "TFL2"])
    }
    func testRootOffsetPastEnd() throws {
        var b = valid()
        patch32(&b, at: 0, UInt32(b.count + 100))
        try expectRejected("root", b, mentions: ["byte"])
    }
    func testVTableOffsetOutOfRange() throws {
        var b = valid()
        let root = Int(b[0]) | Int(b[1]) << 8 | Int(b[2]) << 16 | Int(b[3]) << 24
        patch32(&b, at: root, 0x7fff_0000)
        try expectRejected("vtable", b, mentions: ["vtable", "byte \(root)"])
    }
    func testVectorLengthPastEnd() throws {
        var m = tinyFullyConnectedModel()
        m.main.values[0].shape = [0x7ead_0001, 4]
        var b = valid(m)
        let pos = try XCTUnwrap(find(0x7ead_0001, in: b))
        patch32(&b, at: pos - 4, 0x3fff_ffff)  // the shape vector's element count
        try expectRejected("veclen", b, mentions: ["vector", "byte \(pos - 4)", "shape"])
    }
    func testStringLengthPastEnd() throws {
        var m = tinyFullyConnectedModel()
        m.main.values[0].name = "MARK"
        var b = valid(m)
        let pos = try XCTUnwrap(find(0x4b52_414d, in: b))  // "MARK"
        patch32(&b, at: pos - 4, 0x0fff_ffff)
        try expectRejected("strlen", b, mentions: ["string", "byte \(pos - 4)", "name"])
    }
    func testInvalidUTF8Name() throws {
        var m = tinyFullyConnectedModel()
        m.main.values[0].name = "MARK"
        var b = valid(m)
        let pos = try XCTUnwrap(find(0x4b52_414d, in: b))
        b[pos] = 0xff
        b[pos + 1] = 0xfe
        try expectRejected("utf8", b, mentions: ["UTF-8"])
    }
    func testTensorBufferOutOfRange() throws {
        var m = tinyFullyConnectedModel()
        m.main.values[1].buffer = BufferID(99)
        try expectRejected("buffer", valid(m), mentions: ["tensor 1", "buffer 99"])
    }
    func testOpInputOutOfRange() throws {
        var m = tinyFullyConnectedModel()
        m.main.ops[0].inputs[0] = ValueID(Int32(50))
        try expectRejected("opinput", valid(m), mentions: ["op #0", "tensor index 50"])
    }
    func testOpOutputNegative() throws {
        var m = tinyFullyConnectedModel()
        m.main.ops[0].outputs[0] = ValueID(Int32(-1))
        try expectRejected("opoutput", valid(m), mentions: ["op #0", "tensor index -1"])
    }
    func testOpcodeIndexOutOfRange() throws {
        // Rewrite the operator's opcode_index field: the only op uses index 0, so add a field by
        // serializing a model whose op refers to a second opcode, then dropping that opcode.
        var m = tinyFullyConnectedModel()
        let y = m.main.outputs[0]
        let z = m.main.addValue(Value(name: "z", type: ElementType(.float32), shape: [1, 3]))
        m.main.addOp(Op(kind: .relu, inputs: [y], outputs: [z]))
        m.main.outputs = [z]
        var root = TFLiteExporter.modelTable(m)
        // Keep only the first operator code (FULLY_CONNECTED): RELU's index 1 is now out of range.
        if let i = root.fields.firstIndex(where: { $0.id == 1 }), case .tables(let codes) = root.fields[i].value {
            root.fields[i].value = .tables(Array(codes.prefix(1)))
        }
        let b = FlatBufferWriter.serialize(root: root, fileIdentifier: "TFL3").bytes()
        try expectRejected("opcode", b, mentions: ["op #1", "opcode index 1"])
    }
    func testSubgraphInputOutOfRange() throws {
        var m = tinyFullyConnectedModel()
        m.main.inputs = [ValueID(Int32(7))]
        try expectRejected("sginput", valid(m), mentions: ["inputs", "tensor index 7"])
    }
    func testNegativeDimension() throws {
        var m = tinyFullyConnectedModel()
        m.main.values[3].shape = [1, -3]
        try expectRejected("negdim", valid(m), mentions: ["tensor 3", "negative dimension -3"])
    }
    func testOverflowingDimensions() throws {
        var m = tinyFullyConnectedModel()
        m.main.values[3].shape = [Int32.max, Int32.max, Int32.max]
        try expectRejected("overflow", valid(m), mentions: ["tensor 3", "too many elements"])
    }
    /// An empty tensor whose other dimensions multiply past Int.max: no kernel or pass may
    /// ever compute that partial product, so the importer refuses the shape.
    func testEmptyTensorWithOverflowingDimensions() throws {
        var m = tinyFullyConnectedModel()
        m.main.values[3].shape = [0, Int32.max, Int32.max, Int32.max]
        try expectRejected("empty-overflow", valid(m), mentions: ["tensor 3", "too many elements"])
    }
    func testBufferSizeDisagreesWithTensor() throws {
        var m = tinyFullyConnectedModel()
        m.main.values[1].shape = [3, 5]
        try expectRejected("bufsize", valid(m), mentions: ["tensor 1", "48 bytes", "60"])
    }
    func testOperatorsFormACycle() throws {
        var m = tinyFullyConnectedModel()
        let y = m.main.outputs[0]
        let z = m.main.addValue(Value(name: "z", type: ElementType(.float32), shape: [1, 3]))
        m.main.addOp(Op(kind: .relu, inputs: [y], outputs: [z]))
        // op 0 now reads op 1's output, and op 1 reads op 0's.
        m.main.ops[0].inputs[0] = z
        try expectRejected("cycle", valid(m), mentions: ["op #0", "cycle"])
    }
    func testTensorWrittenTwice() throws {
        var m = tinyFullyConnectedModel()
        let y = m.main.outputs[0]
        let x = m.main.inputs[0]
        m.main.addOp(Op(kind: .relu, inputs: [x], outputs: [y]))
        try expectRejected("twice", valid(m), mentions: ["op #1", "already writes"])
    }
    func testWrongSchemaVersion() throws {
        var m = tinyFullyConnectedModel()
        m.version = 2
        try expectRejected("version", valid(m), mentions: ["schema version 2"])
    }
    func testNoSubgraphs() throws {
        var m = tinyFullyConnectedModel()
        m.subgraphs = []
        try expectRejected("nosub", valid(m), mentions: ["no subgraphs"])
    }
    func testMetadataBufferOutOfRange() throws {
        var m = tinyFullyConnectedModel()
        m.metadata = [Metadata(name: "min_runtime_version", buffer: BufferID(40))]
        try expectRejected("metadata", valid(m), mentions: ["metadata \"min_runtime_version\"", "buffer 40"])
    }
    func testSignatureTensorOutOfRange() throws {
        var m = tinyFullyConnectedModel()
        m.signatureDefs = [SignatureDef(key: "serving_default", inputs: [.init(name: "x", tensor: ValueID(Int32(30)))], outputs: [], subgraph: 0)]
        try expectRejected("signature", valid(m), mentions: ["signature \"serving_default\"", "tensor 30"])
    }
    func testPerChannelScalesMismatch() throws {
        var m = tinyFullyConnectedModel()
        m.main.values[3].type.quantization = Quantization(scales: [1, 2, 3, 4, 5], zeroPoints: [0, 0, 0, 0, 0], axis: 1)
        try expectRejected("perchannel", valid(m), mentions: ["tensor 3", "per-channel"])
    }
    func testShapeSignatureLengthMismatch() throws {
        var m = tinyFullyConnectedModel()
        m.main.values[0].shapeSignature = [-1]
        try expectRejected("signature-shape", valid(m), mentions: ["tensor 0", "shape_signature"])
    }

    /// A failed run leaves an existing output file untouched.
    func testFailedRunKeepsExistingOutput() throws {
        let input = dir.appendingPathComponent("bad.tflite")
        try Data([0, 1, 2]).write(to: input)
        let output = dir.appendingPathComponent("existing.tflite")
        try Data("keep me".utf8).write(to: output)
        let r = try runTool([input.path, "-o", output.path])
        XCTAssertEqual(r.status, 2)
        XCTAssertEqual(try String(contentsOf: output, encoding: .utf8), "keep me")
    }

    /// Output is byte-identical across runs.
    func testTwoRunsGiveIdenticalBytes() throws {
        let input = dir.appendingPathComponent("ok.tflite")
        try Data(valid()).write(to: input)
        let a = dir.appendingPathComponent("a.tflite"), b = dir.appendingPathComponent("b.tflite")
        XCTAssertEqual(try runTool([input.path, "-o", a.path]).status, 0)
        XCTAssertEqual(try runTool([input.path, "-o", b.path]).status, 0)
        XCTAssertEqual(try Data(contentsOf: a), try Data(contentsOf: b))
    }

    /// Every single-byte truncation and a seeded set of byte flips never crash the importer.
    func testTruncationsAndFlipsNeverTrap() throws {
        let b = valid()
        for n in 0..<b.count {
            _ = try? TFLiteImporter.decode(ByteStorage(Array(b.prefix(n))))
        }
        var rng = SplitMix64(seed: 42)
        for _ in 0..<3000 {
            var c = b
            let pos = Int(rng.next() % UInt64(c.count))
            c[pos] = UInt8(truncatingIfNeeded: rng.next())
            if let m = try? TFLiteImporter.decode(ByteStorage(c)) {
                _ = ModelReport(model: m, path: "x").json().rendered()
                _ = TFLiteExporter.serialize(m).bytes()
            }
        }
    }
}
