import FlatBuffers
import Foundation
import XCTest

@testable import TFRewrite

/// Writes protobuf bytes field by field, so tests spell out exactly what the importer reads
/// (including broken framing), independently of protobuf-c.
struct ProtoWriter {
    var bytes: [UInt8] = []

    init() {}
    init(_ build: (inout ProtoWriter) -> Void) { build(&self) }

    /// This message followed by more fields.
    func appending(_ build: (inout ProtoWriter) -> Void) -> ProtoWriter {
        var copy = self
        build(&copy)
        return copy
    }

    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(v & 0x7f) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }
    mutating func key(_ field: Int, _ wireType: Int) { varint(UInt64(field << 3 | wireType)) }
    mutating func int(_ field: Int, _ value: Int64) {
        key(field, 0)
        varint(UInt64(bitPattern: value))
    }
    mutating func bool(_ field: Int, _ value: Bool) { int(field, value ? 1 : 0) }
    mutating func fixed32(_ field: Int, _ value: UInt32) {
        key(field, 5)
        for i in 0..<4 { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt32(i)))) }
    }
    mutating func float(_ field: Int, _ value: Float) { fixed32(field, value.bitPattern) }
    mutating func double(_ field: Int, _ value: Double) {
        key(field, 1)
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: value.bitPattern >> (8 * UInt64(i)))) }
    }
    mutating func data(_ field: Int, _ value: [UInt8]) {
        key(field, 2)
        varint(UInt64(value.count))
        bytes += value
    }
    mutating func string(_ field: Int, _ value: String) { data(field, Array(value.utf8)) }
    mutating func message(_ field: Int, _ value: ProtoWriter) { data(field, value.bytes) }
    mutating func message(_ field: Int, _ build: (inout ProtoWriter) -> Void) { message(field, ProtoWriter(build)) }
    mutating func packed(_ field: Int, _ values: [Int64]) {
        var inner = ProtoWriter()
        for v in values { inner.varint(UInt64(bitPattern: v)) }
        data(field, inner.bytes)
    }
    mutating func packedFloats(_ field: Int, _ values: [Float]) {
        data(field, values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt32($0))) } })
    }
}

/// An attribute value for `TestNode` (AttrValue, TF's attr_value.proto).
enum TestAttr {
    case i(Int64), f(Float), b(Bool), s(String), type(TFDataType), ints([Int64]), shape([Int64]?), tensor(TestTensor)

    func write(_ w: inout ProtoWriter) {
        switch self {
        case .i(let v): w.int(3, v)
        case .f(let v): w.float(4, v)
        case .b(let v): w.int(5, v ? 1 : 0)
        case .s(let v): w.string(2, v)
        case .type(let t): w.int(6, Int64(t.rawValue))
        case .ints(let v): w.message(1) { $0.packed(3, v) }
        case .shape(let dims): w.message(7) { writeShape(&$0, dims) }
        case .tensor(let t): w.message(8) { t.write(&$0) }
        }
    }
}

func writeShape(_ w: inout ProtoWriter, _ dims: [Int64]?) {
    guard let dims else {
        w.int(3, 1)
        return
    }
    for d in dims { w.message(2) { $0.int(1, d) } }
}

/// A TensorProto: float or int32 values as tensor_content (or raw bytes, to break it).
struct TestTensor {
    var dtype: TFDataType
    var shape: [Int64]
    var content: [UInt8]

    static func floats(_ values: [Float], _ shape: [Int64]) -> TestTensor {
        TestTensor(dtype: .float, shape: shape, content: values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt32($0))) } })
    }
    static func ints(_ values: [Int32], _ shape: [Int64]? = nil) -> TestTensor {
        TestTensor(dtype: .int32, shape: shape ?? [Int64(values.count)], content: values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: UInt32(bitPattern: v) >> (8 * UInt32($0))) } })
    }

    func write(_ w: inout ProtoWriter) {
        w.int(1, Int64(dtype.rawValue))
        w.message(2) { writeShape(&$0, shape) }
        if !content.isEmpty { w.data(4, content) }
    }
}

/// A NodeDef for hand-built graphs.
struct TestNode {
    var name: String
    var op: String
    var inputs: [String] = []
    var attrs: [(String, TestAttr)] = []

    init(_ name: String, _ op: String, _ inputs: [String] = [], _ attrs: [(String, TestAttr)] = []) {
        self.name = name
        self.op = op
        self.inputs = inputs
        self.attrs = attrs
    }

    static func placeholder(_ name: String, _ shape: [Int64]) -> TestNode {
        TestNode(name, "Placeholder", [], [("dtype", .type(.float)), ("shape", .shape(shape))])
    }
    static func const(_ name: String, _ t: TestTensor) -> TestNode {
        TestNode(name, "Const", [], [("dtype", .type(t.dtype)), ("value", .tensor(t))])
    }

    func write(_ w: inout ProtoWriter) {
        w.string(1, name)
        w.string(2, op)
        for i in inputs { w.string(3, i) }
        for (k, v) in attrs {
            w.message(5) { e in
                e.string(1, k)
                e.message(2) { v.write(&$0) }
            }
        }
    }
}

func graphDefBytes(_ nodes: [TestNode]) -> [UInt8] {
    var w = ProtoWriter()
    for n in nodes { w.message(1) { n.write(&$0) } }
    w.message(4) { $0.int(1, 1000) }
    return w.bytes
}

/// A SavedModel with one "serve" meta graph and the given signatures
/// (key → ([input key: tensor name], [output key: tensor name])).
func savedModelBytes(_ nodes: [TestNode], tags: [String] = ["serve"], signatures: [String: ([String: String], [String: String])]) -> [UInt8] {
    var w = ProtoWriter()
    w.int(1, 1)
    w.message(2) { mg in
        mg.message(1) { info in for t in tags { info.string(4, t) } }
        mg.message(2) { g in for n in nodes { g.message(1) { n.write(&$0) } } }
        for (key, (ins, outs)) in signatures.sorted(by: { $0.key < $1.key }) {
            mg.message(5) { entry in
                entry.string(1, key)
                entry.message(2) { sig in
                    for (k, name) in ins.sorted(by: { $0.key < $1.key }) {
                        sig.message(1) { e in e.string(1, k); e.message(2) { $0.string(1, name); $0.int(2, 1) } }
                    }
                    for (k, name) in outs.sorted(by: { $0.key < $1.key }) {
                        sig.message(2) { e in e.string(1, k); e.message(2) { $0.string(1, name); $0.int(2, 1) } }
                    }
                    sig.string(3, "tensorflow/serving/predict")
                }
            }
        }
    }
    return w.bytes
}

/// A small valid graph: x [1,4,4,2] → Conv2D 3×3 (2→3, SAME) → BiasAdd → Relu → out.
func smallConvGraph(dataFormat: String = "NHWC", extraNodes: [TestNode] = [], convInput: String = "x") -> [TestNode] {
    let filter: [Float] = (0..<54).map { (i: Int) -> Float in Float(i % 7) * 0.1 - 0.3 }
    return [
        .placeholder("x", [1, 4, 4, 2]),
        .const("w", .floats(filter, [3, 3, 2, 3])),
        .const("b", .floats([0.1, -0.2, 0.3], [3])),
        TestNode("conv", "Conv2D", [convInput, "w"], [("T", .type(.float)), ("strides", .ints([1, 1, 1, 1])), ("padding", .s("SAME")), ("data_format", .s(dataFormat))]),
        TestNode("bias", "BiasAdd", ["conv", "b"], [("T", .type(.float))]),
        TestNode("relu", "Relu", ["bias"], [("T", .type(.float))]),
    ] + extraNodes
}

extension TestPaths {
    static func graphDef(_ name: String) -> String { fixtures.appendingPathComponent("graphdef/\(name).pb").path }
    static func savedModel(_ name: String) -> String { fixtures.appendingPathComponent("savedmodel/\(name)").path }
    static func reference(_ name: String) -> String { fixtures.appendingPathComponent("reference/\(name)_tf.tflite").path }

    /// ../shared/models/graphdef/NAME.pb, or XCTSkip when the corpus is absent.
    static func corpusGraph(_ name: String) throws -> String {
        try corpusDirectory("graphdef").appendingPathComponent("\(name).pb").path
    }
}

/// Writes bytes to a fresh temporary file and returns its path.
func writeTemporary(_ bytes: [UInt8], name: String = "graph.pb") throws -> String {
    let dir = try TestPaths.temporaryDirectory()
    let url = dir.appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url.path
}

/// Builtin op names of subgraph 0, in order.
func opNames(_ m: Model) -> [String] { m.subgraphs[0].ops.filter { !$0.isErased }.map(\.name) }

/// Reads a little-endian float32 .npy (C order): shape and values.
func readFloatNpy(_ path: String) throws -> (shape: [Int], values: [Float]) {
    let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
    guard data.count > 10, data[0] == 0x93, Array(data[1...5]) == Array("NUMPY".utf8) else { throw NpyTestError("\(path): not a .npy file") }
    let major = data[6]
    let headerLength = major == 1 ? Int(data[8]) | Int(data[9]) << 8 : Int(data[8]) | Int(data[9]) << 8 | Int(data[10]) << 16 | Int(data[11]) << 24
    let headerStart = major == 1 ? 10 : 12
    let header = String(decoding: data[headerStart..<(headerStart + headerLength)], as: UTF8.self)
    guard header.contains("'<f4'"), header.contains("'fortran_order': False") else { throw NpyTestError("\(path): expected little-endian float32 C order, header \(header)") }
    guard let open = header.range(of: "'shape': ("), let close = header[open.upperBound...].firstIndex(of: ")") else { throw NpyTestError("\(path): no shape") }
    let shape = header[open.upperBound..<close].split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    let body = Array(data[(headerStart + headerLength)...])
    let values = body.withUnsafeBytes { raw in
        (0..<(body.count / 4)).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
    }
    return (shape, values)
}

struct NpyTestError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Runs `model` (one float input, one float output) on each input with the reference
/// interpreter.
func runFloatModel(_ model: Model, inputs: [[Float]]) throws -> [[Float]] {
    let interpreter = try Interpreter(model: model)
    let shape = interpreter.inputs[0].shape
    return try inputs.map { x in
        guard let t = RuntimeTensor(shape: shape, floats: x) else { throw NpyTestError("input of \(x.count) values does not fit \(shape)") }
        guard let y = try interpreter.run([t]).first?.floats else { throw NpyTestError("no float output") }
        return y
    }
}

/// Largest absolute difference between two equally long lists of vectors.
func maxAbsDifference(_ a: [[Float]], _ b: [[Float]]) -> Float {
    zip(a, b).map { zip($0, $1).map { abs($0 - $1) }.max() ?? 0 }.max() ?? 0
}
