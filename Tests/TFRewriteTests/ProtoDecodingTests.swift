import Foundation
import XCTest

@testable import TFRewrite

// MARK: - Message builders (field numbers: TensorFlow's .proto files)

private func shapeProto(_ dims: [Int64]) -> ProtoWriter {
    ProtoWriter { s in for d in dims { s.message(2, ProtoWriter { $0.int(1, d) }) } }
}

private func tensorProto(dtype: Int64, dims: [Int64], _ fill: (inout ProtoWriter) -> Void = { _ in }) -> ProtoWriter {
    ProtoWriter { t in
        t.int(1, dtype)
        t.message(2, shapeProto(dims))
        fill(&t)
    }
}

/// A map<string, Message> entry: key 1, value 2 (protobuf map encoding).
private func mapEntry(_ key: String, _ value: ProtoWriter) -> ProtoWriter {
    ProtoWriter { e in
        e.string(1, key)
        e.message(2, value)
    }
}

/// A NodeDef.attr entry.
private func attr(_ key: String, _ value: ProtoWriter) -> ProtoWriter { mapEntry(key, value) }

private func nodeProto(
    _ name: String, _ op: String, inputs: [String] = [], device: String = "", attrs: [ProtoWriter] = []
) -> ProtoWriter {
    ProtoWriter { n in
        n.string(1, name)
        n.string(2, op)
        for i in inputs { n.string(3, i) }
        if !device.isEmpty { n.string(4, device) }
        for a in attrs { n.message(5, a) }
    }
}

private func constNode(_ name: String, _ tensor: ProtoWriter) -> ProtoWriter {
    nodeProto(name, "Const", attrs: [attr("value", ProtoWriter { $0.message(8, tensor) }), attr("dtype", ProtoWriter { $0.int(6, 1) })])
}

private func graphProto(_ nodes: [ProtoWriter], producer: Int64? = nil) -> ProtoWriter {
    ProtoWriter { g in
        for n in nodes { g.message(1, n) }
        if let producer { g.message(4, ProtoWriter { $0.int(1, producer) }) }
    }
}

private func decodeGraph(_ pb: ProtoWriter, path: String = "test.pb") throws -> TFGraphDef {
    try pb.bytes.withUnsafeBytes { try ProtoDecoding.graphDef($0, path: path) }
}

private func decodeSavedModel(_ pb: ProtoWriter, path: String = "saved_model.pb") throws -> TFSavedModel {
    try pb.bytes.withUnsafeBytes { try ProtoDecoding.savedModel($0, path: path) }
}

/// The one tensor in a decoded Const node's `value` attr.
private func constTensor(_ graph: TFGraphDef, _ index: Int = 0) throws -> TFTensor {
    guard case .tensor(let t)? = graph.nodes[index].attrs["value"] else {
        XCTFail("node \(index) has no tensor value")
        throw ProtoDecodeError.malformed(what: "test", path: "", detail: "")
    }
    return t
}

private func errorDescription(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        return String(describing: error)
    }
}

final class ProtoDecodingTests: XCTestCase {
    // MARK: Nodes and attributes

    func testDecodesNodeFieldsAttrsAndVersions() throws {
        let conv = nodeProto(
            "conv", "Conv2D", inputs: ["input", "weights:1", "^init"], device: "/cpu:0",
            attrs: [
                attr("T", ProtoWriter { $0.int(6, 1) }),
                attr("strides", ProtoWriter { $0.message(1, ProtoWriter { $0.packed(3, [1, 2, 2, 1]) }) }),
                attr("padding", ProtoWriter { $0.string(2, "SAME") }),
                attr("alpha", ProtoWriter { $0.float(4, 0.25) }),
                attr("use_cudnn_on_gpu", ProtoWriter { $0.bool(5, true) }),
                attr("N", ProtoWriter { $0.int(3, -3) }),
                attr("shape", ProtoWriter { $0.message(7, shapeProto([-1, 49, 10])) }),
                attr("unknown", ProtoWriter { $0.message(7, ProtoWriter { $0.bool(3, true) }) }),
                attr("ph", ProtoWriter { $0.string(9, "my_placeholder") }),
                attr("f", ProtoWriter { $0.message(10, ProtoWriter { $0.string(1, "__inference_fn_12") }) }),
                attr("types", ProtoWriter { $0.message(1, ProtoWriter { $0.packed(6, [1, 3, 101]) }) }),
                attr("empty_list", ProtoWriter { $0.message(1, ProtoWriter()) }),
                attr("not_set", ProtoWriter()),
            ])
        let graph = try decodeGraph(graphProto([conv], producer: 2474))

        XCTAssertEqual(graph.producer, 2474)
        XCTAssertEqual(graph.nodes.count, 1)
        let n = graph.nodes[0]
        XCTAssertEqual(n.name, "conv")
        XCTAssertEqual(n.op, "Conv2D")
        XCTAssertEqual(n.inputs, ["input", "weights:1", "^init"])
        XCTAssertEqual(n.device, "/cpu:0")
        XCTAssertEqual(n.attrs["T"], .type(1))
        XCTAssertEqual(n.attrs["strides"], .list(TFAttrList(i: [1, 2, 2, 1])))
        XCTAssertEqual(n.attrs["padding"], .s(Array("SAME".utf8)))
        XCTAssertEqual(n.attrs["alpha"], .f(0.25))
        XCTAssertEqual(n.attrs["use_cudnn_on_gpu"], .b(true))
        XCTAssertEqual(n.attrs["N"], .i(-3))
        XCTAssertEqual(n.attrs["shape"], .shape(TFTensorShape(dims: [-1, 49, 10])))
        XCTAssertEqual(n.attrs["unknown"], .shape(.unknownRank))
        XCTAssertEqual(n.attrs["ph"], .placeholder("my_placeholder"))
        XCTAssertEqual(n.attrs["f"], .func("__inference_fn_12"))
        XCTAssertEqual(n.attrs["types"], .list(TFAttrList(type: [1, 3, 101])))
        XCTAssertEqual(n.attrs["empty_list"], .list(TFAttrList()))
        XCTAssertNil(n.attrs["not_set"], "an AttrValue with no value set is dropped")
    }

    func testGraphWithoutVersionsHasNoProducerAndEmptyInputIsEmptyGraph() throws {
        XCTAssertNil(try decodeGraph(graphProto([nodeProto("a", "NoOp")])).producer)
        let empty = try decodeGraph(ProtoWriter())
        XCTAssertEqual(empty.nodes.count, 0)
        XCTAssertNil(empty.producer)
    }

    func testUnknownFieldsAreSkippedAndRepeatedMessagesMerge() throws {
        var node = nodeProto("a", "Identity", inputs: ["x"])
        node.int(7, 99)  // experimental_type (not read), varint
        node.message(6, ProtoWriter { $0.string(1, "debug") })  // experimental_debug_info
        node.fixed32(1000, 5)
        var graph = graphProto([node], producer: 1)
        graph.int(3, 21)  // deprecated GraphDef.version
        graph.message(5, ProtoWriter { $0.string(1, "debug_info") })
        graph.message(1, nodeProto("b", "NoOp"))  // nodes after other fields still append
        graph.message(4, ProtoWriter { $0.int(1, 7) })  // the last `versions` wins
        let decoded = try decodeGraph(graph)
        XCTAssertEqual(decoded.nodes.map(\.name), ["a", "b"])
        XCTAssertEqual(decoded.nodes[0].inputs, ["x"])
        XCTAssertEqual(decoded.producer, 7)
    }

    func testDuplicateAttrKeyKeepsLastValue() throws {
        let node = nodeProto("n", "Cast", attrs: [attr("T", ProtoWriter { $0.int(6, 1) }), attr("T", ProtoWriter { $0.int(6, 3) })])
        XCTAssertEqual(try decodeGraph(graphProto([node])).nodes[0].attrs["T"], .type(3))
    }

    func testInvalidUTF8InNamesIsReplacedNotTrapped() throws {
        var node = ProtoWriter()
        node.data(1, [0x61, 0xff, 0xfe, 0x62])  // "a\xff\xfeb"
        node.string(2, "NoOp")
        let name = try decodeGraph(graphProto([node])).nodes[0].name
        XCTAssertTrue(name.hasPrefix("a") && name.hasSuffix("b") && name.contains("\u{FFFD}"), name)
    }

    func testUnknownDTypeNumbersAndReferenceTypesSurvive() throws {
        let graph = try decodeGraph(graphProto([constNode("c", tensorProto(dtype: 57, dims: []))]))
        XCTAssertEqual(try constTensor(graph).dtype, 57)
        XCTAssertNil(TFDataType(raw: 57))
        XCTAssertNil(TFDataType(raw: 0))
        XCTAssertEqual(TFDataType(raw: 101), .float)
        XCTAssertEqual(TFDataType(raw: 106), .int8)
        XCTAssertEqual(TFDataType(raw: 23), .uint64)
        XCTAssertTrue(TFDataType.isReference(raw: 101))
        XCTAssertFalse(TFDataType.isReference(raw: 1))
        XCTAssertEqual(TFDataType.describe(raw: 101), "FLOAT_REF")
        XCTAssertEqual(TFDataType.describe(raw: 57), "DataType(57)")
    }

    // MARK: Packed and unpacked repeated scalars

    func testPackedAndUnpackedRepeatedScalarsDecodeTheSame() throws {
        let packed = tensorProto(dtype: 1, dims: [3]) { t in
            t.packedFloats(5, [1.5, -2, 3])
            t.packed(7, [1, -2, 300])
            t.packed(10, [Int64.min, 5])
            t.packed(11, [1, 0, 1])
            t.data(6, (0..<8).map { UInt8(truncatingIfNeeded: (2.5 as Double).bitPattern >> (8 * UInt64($0))) })
        }
        let unpacked = tensorProto(dtype: 1, dims: [3]) { t in
            for v: Float in [1.5, -2, 3] { t.float(5, v) }
            for v: Int64 in [1, -2, 300] { t.int(7, v) }
            for v in [Int64.min, 5] { t.int(10, v) }
            for v in [true, false, true] { t.bool(11, v) }
            t.double(6, 2.5)
        }
        let a = try constTensor(decodeGraph(graphProto([constNode("p", packed)])))
        let b = try constTensor(decodeGraph(graphProto([constNode("u", unpacked)])))
        XCTAssertEqual(a, b)
        XCTAssertEqual(a.floatVal, [1.5, -2, 3])
        XCTAssertEqual(a.intVal, [1, -2, 300])
        XCTAssertEqual(a.int64Val, [Int64.min, 5])
        XCTAssertEqual(a.boolVal, [true, false, true])
        XCTAssertEqual(a.doubleVal, [2.5])
        XCTAssertEqual(a.shape, TFTensorShape(dims: [3]))
    }

    func testMixedPackedAndUnpackedChunksAppend() throws {
        let list = ProtoWriter { l in
            l.packed(3, [1, 2])
            l.int(3, 3)
            l.packed(3, [4])
            l.float(4, 0.5)
            l.packedFloats(4, [1.5])
            l.bool(5, true)
            l.packed(5, [0])
            l.int(6, 9)
            l.packed(6, [1])
            l.data(2, Array("a".utf8))
            l.message(7, shapeProto([2, 2]))
            l.message(8, tensorProto(dtype: 3, dims: [1]) { $0.int(7, 42) })
        }
        let node = nodeProto("n", "X", attrs: [attr("l", ProtoWriter { $0.message(1, list) })])
        let expected = TFAttrList(
            s: [Array("a".utf8)], i: [1, 2, 3, 4], f: [0.5, 1.5], b: [true, false], type: [9, 1],
            shape: [TFTensorShape(dims: [2, 2])],
            tensor: [TFTensor(dtype: 3, shape: TFTensorShape(dims: [1]), intVal: [42])])
        XCTAssertEqual(try decodeGraph(graphProto([node])).nodes[0].attrs["l"], .list(expected))
    }

    // MARK: Tensor values

    func testTensorContentIsLittleEndianRowMajor() throws {
        let floats: [Float] = [1, -2.5, 3.25, 0, 1e-3, 7]
        let content = floats.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * UInt32($0))) }
        }
        let tensor = tensorProto(dtype: 1, dims: [2, 3]) { $0.data(4, content) }
        let values = try constTensor(decodeGraph(graphProto([constNode("w", tensor)]))).decodedValues(nodeName: "w")
        XCTAssertEqual(values, TFTensorValues(shape: [2, 3], elements: .float(floats)))

        let ints = TFTensor(dtype: 3, shape: TFTensorShape(dims: [2]), content: [1, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff])
        XCTAssertEqual(try ints.decodedValues(nodeName: "i").elements, .int32([1, -2]))
        let i64 = TFTensor(
            dtype: 9, shape: TFTensorShape(dims: [1]), content: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f])
        XCTAssertEqual(try i64.decodedValues(nodeName: "l").elements, .int64([Int64.max]))
        let i8 = TFTensor(dtype: 6, shape: TFTensorShape(dims: [3]), content: [0x80, 0x7f, 0xff])
        XCTAssertEqual(try i8.decodedValues(nodeName: "b").elements, .int8([-128, 127, -1]))
        let u8 = TFTensor(dtype: 4, shape: TFTensorShape(dims: [2]), content: [200, 1])
        XCTAssertEqual(try u8.decodedValues(nodeName: "u").elements, .uint8([200, 1]))
        let i16 = TFTensor(dtype: 5, shape: TFTensorShape(dims: [2]), content: [0x00, 0x80, 0x01, 0x00])
        XCTAssertEqual(try i16.decodedValues(nodeName: "s").elements, .int16([-32768, 1]))
        let bools = TFTensor(dtype: 10, shape: TFTensorShape(dims: [3]), content: [1, 0, 2])
        XCTAssertEqual(try bools.decodedValues(nodeName: "t").elements, .bool([true, false, true]))
        let doubles = TFTensor(
            dtype: 2, shape: TFTensorShape(dims: [1]),
            content: (0..<8).map { UInt8(truncatingIfNeeded: (-0.5 as Double).bitPattern >> (8 * UInt64($0))) })
        XCTAssertEqual(try doubles.decodedValues(nodeName: "d").elements, .double([-0.5]))
    }

    func testShortValueListRepeatsLastValueAndEmptyListIsZeros() throws {
        // float_val [1,2] with shape [5] → [1,2,2,2,2] (tensor.proto, tf.io.parse_tensor).
        let short = TFTensor(dtype: 1, shape: TFTensorShape(dims: [5]), floatVal: [1, 2])
        XCTAssertEqual(
            try short.decodedValues(nodeName: "s"), TFTensorValues(shape: [5], elements: .float([1, 2, 2, 2, 2])))
        // Scalars: `float_val: 7` with an empty shape.
        let scalar = TFTensor(dtype: 1, shape: .scalar, floatVal: [7])
        XCTAssertEqual(try scalar.decodedValues(nodeName: "k"), TFTensorValues(shape: [], elements: .float([7])))
        // An empty list means zeros.
        let zeros = TFTensor(dtype: 3, shape: TFTensorShape(dims: [2, 2]))
        XCTAssertEqual(try zeros.decodedValues(nodeName: "z").elements, .int32([0, 0, 0, 0]))
        XCTAssertEqual(
            try TFTensor(dtype: 10, shape: TFTensorShape(dims: [2])).decodedValues(nodeName: "b").elements,
            .bool([false, false]))
        // A longer list is cut to the shape, like TensorFlow's FromProtoField.
        let long = TFTensor(dtype: 9, shape: TFTensorShape(dims: [2]), int64Val: [1, 2, 3])
        XCTAssertEqual(try long.decodedValues(nodeName: "l").elements, .int64([1, 2]))
        // int8/uint8/int16 come from int_val, truncated like static_cast.
        let i8 = TFTensor(dtype: 6, shape: TFTensorShape(dims: [3]), intVal: [-1, 300])
        XCTAssertEqual(try i8.decodedValues(nodeName: "q").elements, .int8([-1, 44, 44]))
        let u8 = TFTensor(dtype: 4, shape: TFTensorShape(dims: [2]), intVal: [255])
        XCTAssertEqual(try u8.decodedValues(nodeName: "u").elements, .uint8([255, 255]))
        let i16 = TFTensor(dtype: 5, shape: TFTensorShape(dims: [1]), intVal: [-7])
        XCTAssertEqual(try i16.decodedValues(nodeName: "h").elements, .int16([-7]))
        let strings = TFTensor(dtype: 7, shape: TFTensorShape(dims: [3]), stringVal: [Array("yes".utf8)])
        XCTAssertEqual(
            try strings.decodedValues(nodeName: "s").elements, .string(Array(repeating: Array("yes".utf8), count: 3)))
        let empty = TFTensor(dtype: 1, shape: TFTensorShape(dims: [0, 3]), floatVal: [1])
        XCTAssertEqual(try empty.decodedValues(nodeName: "e"), TFTensorValues(shape: [0, 3], elements: .float([])))
        // A reference dtype decodes as its value type.
        let ref = TFTensor(dtype: 101, shape: TFTensorShape(dims: [1]), floatVal: [3])
        XCTAssertEqual(try ref.decodedValues(nodeName: "r").elements, .float([3]))
    }

    func testTensorContentLengthMismatchIsAPreciseError() {
        let tensor = TFTensor(dtype: 1, shape: TFTensorShape(dims: [2, 3]), content: Array(repeating: 0, count: 12))
        XCTAssertEqual(
            errorDescription { _ = try tensor.decodedValues(nodeName: "x") },
            "Const node 'x': tensor_content has 12 bytes but shape [2,3] FLOAT needs 24")
        let int8 = TFTensor(dtype: 6, shape: TFTensorShape(dims: [4]), content: [1, 2, 3])
        XCTAssertEqual(
            errorDescription { _ = try int8.decodedValues(nodeName: "q", op: "VarHandleOp") },
            "VarHandleOp node 'q': tensor_content has 3 bytes but shape [4] INT8 needs 4")
    }

    func testUndecodableTensorsThrow() {
        XCTAssertEqual(
            errorDescription {
                _ = try TFTensor(dtype: 1, shape: TFTensorShape(dims: [-1, 3])).decodedValues(nodeName: "a")
            },
            "Const node 'a': tensor shape [?,3] is not fully known")
        XCTAssertEqual(
            errorDescription { _ = try TFTensor(dtype: 1, shape: .unknownRank).decodedValues(nodeName: "b") },
            "Const node 'b': tensor shape <unknown rank> is not fully known")
        XCTAssertEqual(
            errorDescription {
                _ = try TFTensor(dtype: 19, shape: TFTensorShape(dims: [1]), halfVal: [0x3c00]).decodedValues(
                    nodeName: "c")
            },
            "Const node 'c': tensor has unsupported dtype HALF")
        XCTAssertEqual(
            errorDescription { _ = try TFTensor(dtype: 0, shape: .scalar).decodedValues(nodeName: "d") },
            "Const node 'd': tensor has unsupported dtype INVALID")
        // A tiny proto must not be able to ask for a giant broadcast.
        let huge = TFTensor(dtype: 1, shape: TFTensorShape(dims: [1 << 20, 1 << 20]), floatVal: [1])
        XCTAssertEqual(
            errorDescription { _ = try huge.decodedValues(nodeName: "h") },
            "Const node 'h': tensor shape [1048576,1048576] FLOAT needs more than 2147483648 bytes")
        let overflow = TFTensor(dtype: 1, shape: TFTensorShape(dims: [Int64.max, 4]))
        XCTAssertEqual(
            errorDescription { _ = try overflow.decodedValues(nodeName: "o") },
            "Const node 'o': tensor shape [9223372036854775807,4] has too many elements")
        let stringContent = TFTensor(dtype: 7, shape: TFTensorShape(dims: [1]), content: [1, 65])
        XCTAssertEqual(
            errorDescription { _ = try stringContent.decodedValues(nodeName: "s") },
            "Const node 's': STRING tensor stored in tensor_content is not supported")
    }

    // MARK: Malformed input

    func testTruncatedGraphReportsTheOffset() throws {
        let full = graphProto([nodeProto("first", "NoOp"), nodeProto("second", "NoOp")]).bytes
        var cut = ProtoWriter()
        cut.bytes = Array(full.dropLast(3))
        let message = try XCTUnwrap(errorDescription { _ = try decodeGraph(cut, path: "model.pb") })
        XCTAssertEqual(
            message,
            "model.pb is not a valid GraphDef protobuf: field 1 claims 14 bytes but only 11 remain (truncated file?)"
                + " at byte offset 15 (node #1 ('second') is cut short)")
    }

    func testBrokenNodeIsNamedWithIndexAndOffset() throws {
        // The second node's `op` claims 50 bytes but its message ends first.
        var bad = ProtoWriter()
        bad.string(1, "conv1/weights")
        bad.key(2, 2)
        bad.varint(50)
        bad.bytes += Array("Const".utf8)
        let graph = graphProto([nodeProto("ok", "NoOp"), bad])
        let message = try XCTUnwrap(errorDescription { _ = try decodeGraph(graph, path: "frozen.pb") })
        XCTAssertEqual(
            message,
            "frozen.pb is not a valid GraphDef protobuf: node #1 ('conv1/weights') at byte offset 12 is not a valid"
                + " NodeDef (truncated or a field with the wrong wire type)")
    }

    func testWrongWireTypeIsRejected() throws {
        // GraphDef.node (1) sent as a varint.
        let outer = ProtoWriter { $0.int(1, 5) }
        XCTAssertEqual(
            errorDescription { _ = try decodeGraph(outer, path: "g.pb") },
            "g.pb is not a valid GraphDef protobuf: field 1 (node) at byte offset 0 has wire type varint,"
                + " expected length-delimited")
        // NodeDef.name (1) sent as a 32-bit value: protobuf-c rejects the node.
        let inner = graphProto([ProtoWriter { $0.fixed32(1, 7) }])
        XCTAssertEqual(
            errorDescription { _ = try decodeGraph(inner, path: "g.pb") },
            "g.pb is not a valid GraphDef protobuf: node #0 at byte offset 0 is not a valid NodeDef"
                + " (truncated or a field with the wrong wire type)")
        // A float attr sent as a varint, deep inside a node.
        let deep = graphProto([nodeProto("n", "LeakyRelu", attrs: [attr("alpha", ProtoWriter { $0.int(4, 1) })])])
        XCTAssertNotNil(errorDescription { _ = try decodeGraph(deep) })
        // Groups (wire types 3 and 4) are not proto3.
        let group = ProtoWriter { $0.key(9, 3) }
        XCTAssertEqual(
            errorDescription { _ = try decodeGraph(group, path: "g.pb") },
            "g.pb is not a valid GraphDef protobuf: field 9 has unsupported wire type 3 at byte offset 0")
        // Field number 0 does not exist.
        XCTAssertEqual(
            errorDescription { _ = try decodeGraph(ProtoWriter { $0.bytes = [0x02, 0x00] }, path: "g.pb") },
            "g.pb is not a valid GraphDef protobuf: invalid field number 0 at byte offset 0")
    }

    func testEveryTruncationAndByteFlipEitherDecodesOrThrows() throws {
        // Malformed input must never trap: walk all prefixes and single-byte corruptions
        // of a graph and a SavedModel that use every message type we read.
        let tensor = tensorProto(dtype: 1, dims: [2, 2]) { $0.packedFloats(5, [1, 2]) }
        let graph = graphProto(
            [
                constNode("w", tensor),
                nodeProto(
                    "c", "Conv2D", inputs: ["x", "w"],
                    attrs: [attr("strides", ProtoWriter { $0.message(1, ProtoWriter { $0.packed(3, [1, 1, 1, 1]) }) })]),
            ], producer: 3)
        let savedModel = sampleSavedModel(graphNodes: [constNode("w", tensor)])
        for (bytes, isSavedModel) in [(graph.bytes, false), (savedModel.bytes, true)] {
            var failures = 0
            for length in 0..<bytes.count where (try? Self.decodeAny(Array(bytes.prefix(length)), isSavedModel)) == nil
            {
                failures += 1
            }
            XCTAssertGreaterThan(failures, 0)
            for index in bytes.indices {
                for flip: UInt8 in [0x01, 0x80, 0xff] {
                    var corrupted = bytes
                    corrupted[index] ^= flip
                    _ = try? Self.decodeAny(corrupted, isSavedModel)
                }
            }
        }
    }

    /// Decodes as a GraphDef or SavedModel and also decodes every Const value.
    private static func decodeAny(_ bytes: [UInt8], _ isSavedModel: Bool) throws {
        let graphs =
            isSavedModel
            ? try bytes.withUnsafeBytes { try ProtoDecoding.savedModel($0, path: "s") }.metaGraphs.map(\.graph)
            : [try bytes.withUnsafeBytes { try ProtoDecoding.graphDef($0, path: "g") }]
        for node in graphs.flatMap(\.nodes) {
            if case .tensor(let t)? = node.attrs["value"] { _ = try t.decodedValues(nodeName: node.name) }
        }
    }

    // MARK: SavedModel

    private func sampleSavedModel(graphNodes: [ProtoWriter]) -> ProtoWriter {
        func tensorInfo(_ name: String, _ dims: [Int64]?) -> ProtoWriter {
            ProtoWriter { i in
                i.string(1, name)
                i.int(2, 1)
                if let dims { i.message(3, shapeProto(dims)) }
            }
        }
        func argDef(_ name: String, type: Int64? = nil, typeAttr: String? = nil) -> ProtoWriter {
            ProtoWriter { a in
                a.string(1, name)
                if let type { a.int(3, type) }
                if let typeAttr { a.string(4, typeAttr) }
            }
        }
        let signature = ProtoWriter { s in
            s.message(1, mapEntry("x", tensorInfo("serving_default_x:0", [-1, 49, 10])))
            s.message(2, mapEntry("probs", tensorInfo("StatefulPartitionedCall:0", nil)))
            s.string(3, "tensorflow/serving/predict")
        }
        let initSignature = ProtoWriter { $0.message(2, mapEntry("__saved_model_init_op", tensorInfo("NoOp", nil))) }
        let opDef = ProtoWriter { o in
            o.string(1, "__inference_signature_wrapper_42")
            o.message(2, argDef("x", type: 1))
            o.message(2, argDef("unknown", type: 20))
            o.message(3, argDef("identity", typeAttr: "T"))
            o.message(4, ProtoWriter { $0.string(1, "some_attr_def") })  // OpDef.attr, not read
        }
        let function = ProtoWriter { f in
            f.message(1, opDef)
            f.message(3, nodeProto("Relu", "Relu", inputs: ["x"]))
            f.message(4, ProtoWriter { $0.string(1, "identity") }.appending { $0.string(2, "Relu:activations:0") })
        }
        let graph = ProtoWriter { g in
            for n in graphNodes { g.message(1, n) }
            g.message(2, ProtoWriter { $0.message(1, function) })
            g.message(4, ProtoWriter { $0.int(1, 2474) }.appending { $0.int(2, 12) })
        }
        let metaInfo = ProtoWriter { info in
            info.string(1, "meta_graph_version")
            info.string(4, "serve")
            info.string(5, "2.21.0")
        }
        let metaGraph = ProtoWriter { m in
            m.message(1, metaInfo)
            m.message(2, graph)
            m.message(3, ProtoWriter { $0.string(1, "saver_filename:0") })  // saver_def, skipped
            m.message(5, mapEntry("serving_default", signature))
            m.message(5, mapEntry("__saved_model_init_op", initSignature))
            m.message(7, ProtoWriter { $0.message(1, ProtoWriter()) })  // object_graph_def, skipped
        }
        return ProtoWriter { s in
            s.int(1, 1)
            s.message(2, metaGraph)
        }
    }

    func testDecodesSavedModel() throws {
        let model = try decodeSavedModel(
            sampleSavedModel(graphNodes: [
                nodeProto("serving_default_x", "Placeholder", attrs: [attr("dtype", ProtoWriter { $0.int(6, 1) })]),
                nodeProto("StatefulPartitionedCall", "StatefulPartitionedCall", inputs: ["serving_default_x"]),
            ]))
        XCTAssertEqual(model.schemaVersion, 1)
        XCTAssertEqual(model.metaGraphs.count, 1)
        let meta = model.metaGraphs[0]
        XCTAssertEqual(meta.tags, ["serve"])
        XCTAssertEqual(meta.tensorflowVersion, "2.21.0")
        XCTAssertEqual(meta.graph.producer, 2474)
        XCTAssertEqual(meta.graph.nodes.map(\.op), ["Placeholder", "StatefulPartitionedCall"])
        XCTAssertEqual(
            meta.graph.functions,
            [
                TFFunctionDef(
                    name: "__inference_signature_wrapper_42",
                    inputArgs: [TFArgDef(name: "x", type: 1), TFArgDef(name: "unknown", type: 20)],
                    outputArgs: [TFArgDef(name: "identity", typeAttr: "T")],
                    nodes: [TFNodeDef(name: "Relu", op: "Relu", inputs: ["x"])],
                    ret: ["identity": "Relu:activations:0"])
            ])
        XCTAssertEqual(Set(meta.signatures.keys), ["serving_default", "__saved_model_init_op"])
        let serving = try XCTUnwrap(meta.signatures["serving_default"])
        XCTAssertEqual(serving.methodName, "tensorflow/serving/predict")
        XCTAssertEqual(
            serving.inputs["x"],
            TFTensorInfo(name: "serving_default_x:0", dtype: 1, shape: TFTensorShape(dims: [-1, 49, 10])))
        XCTAssertEqual(serving.outputs["probs"], TFTensorInfo(name: "StatefulPartitionedCall:0", dtype: 1, shape: nil))
    }

    func testSavedModelErrorsNameTheMetaGraphAndNode() throws {
        let broken = ProtoWriter { $0.fixed32(2, 1) }  // NodeDef.op as a 32-bit value
        let model = sampleSavedModel(graphNodes: [nodeProto("a", "NoOp"), broken])
        // Offsets are absolute in the file, not relative to the nested message.
        let brokenField: [UInt8] = [0x0a, 0x05] + broken.bytes
        let offset = try XCTUnwrap(
            model.bytes.indices.first { model.bytes[$0...].starts(with: brokenField) })
        XCTAssertGreaterThan(offset, 20)
        XCTAssertEqual(
            errorDescription { _ = try decodeSavedModel(model) },
            "saved_model.pb is not a valid SavedModel protobuf: meta_graphs[0].graph_def.node #1 at byte offset"
                + " \(offset) is not a valid NodeDef (truncated or a field with the wrong wire type)")
        XCTAssertEqual(
            errorDescription { _ = try decodeSavedModel(ProtoWriter { $0.bytes = [0x12, 0x05, 0x0a] }) },
            "saved_model.pb is not a valid SavedModel protobuf: field 2 claims 5 bytes but only 1 remain"
                + " (truncated file?) at byte offset 0")
    }

    // MARK: Corpus

    private static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    func testDecodesCorpusGraphDefs() throws {
        let directory = Self.packageRoot.appendingPathComponent("../shared/models/graphdef").standardized
        let files =
            (try? FileManager.default.contentsOfDirectory(atPath: directory.path))?
            .filter { $0.hasSuffix(".pb") }.sorted() ?? []
        guard !files.isEmpty else {
            throw XCTSkip("corpus GraphDefs not found at \(directory.path); skipping the corpus decode test")
        }
        for file in files {
            let path = directory.appendingPathComponent(file).path
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            let graph = try data.withUnsafeBytes { try ProtoDecoding.graphDef($0, path: path) }
            XCTAssertGreaterThan(graph.nodes.count, 0, file)
            XCTAssertTrue(graph.nodes.contains { $0.op == "Mfcc" }, "\(file) has no Mfcc node")
            XCTAssertTrue(graph.nodes.contains { $0.name == "labels_softmax" }, "\(file) has no labels_softmax node")
            var constElements = 0
            for node in graph.nodes where node.op == "Const" {
                guard case .tensor(let tensor)? = node.attrs["value"] else {
                    XCTFail("\(file): Const '\(node.name)' has no tensor value")
                    continue
                }
                constElements += try tensor.decodedValues(nodeName: node.name).count
            }
            var histogram: [String: Int] = [:]
            for node in graph.nodes { histogram[node.op, default: 0] += 1 }
            let ops = histogram.sorted { ($1.value, $0.key) < ($0.value, $1.key) }
                .map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            print(
                "\(file): \(graph.nodes.count) nodes, producer \(graph.producer.map(String.init) ?? "-"),"
                    + " \(constElements) constant elements; ops: \(ops)")
        }
    }

    // MARK: Generated code

    func testRegenScriptReproducesCommittedGeneratedFiles() throws {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        guard
            let protoc = path.split(separator: ":").map({ "\($0)/protoc-c" })
                .first(where: { FileManager.default.isExecutableFile(atPath: $0) })
        else {
            throw XCTSkip("protoc-c is not on PATH; cannot check scripts/regen-proto.sh against the committed files")
        }
        let root = Self.packageRoot
        let committedHeader = root.appendingPathComponent("Sources/TFProto/include/tfproto.pb-c.h")
        let committedSource = root.appendingPathComponent("Sources/TFProto/tfproto.pb-c.c")

        // protoc-c stamps its version into the header; a different version legitimately
        // produces different text.
        let version = try run(protoc, ["--version"]).split(separator: "\n").first.map(String.init) ?? ""
        let header = try String(contentsOf: committedHeader, encoding: .utf8)
        if let number = Self.protocCVersionNumber(version),
            !header.contains("#elif \(number) < PROTOBUF_C_MIN_COMPILER_VERSION")
        {
            throw XCTSkip("installed \(version) differs from the protoc-c that generated the committed files")
        }

        let out = FileManager.default.temporaryDirectory.appendingPathComponent("regen-proto-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        _ = try run("/bin/sh", [root.appendingPathComponent("scripts/regen-proto.sh").path, out.path])
        XCTAssertEqual(
            try Data(contentsOf: out.appendingPathComponent("include/tfproto.pb-c.h")),
            try Data(contentsOf: committedHeader),
            "tfproto.pb-c.h is stale: run scripts/regen-proto.sh")
        XCTAssertEqual(
            try Data(contentsOf: out.appendingPathComponent("tfproto.pb-c.c")), try Data(contentsOf: committedSource),
            "tfproto.pb-c.c is stale: run scripts/regen-proto.sh")
    }

    /// "protobuf-c 1.4.1" → 1004001 (PROTOBUF_C_VERSION_NUMBER encoding).
    private static func protocCVersionNumber(_ versionLine: String) -> Int? {
        guard let token = versionLine.split(separator: " ").last else { return nil }
        let parts = token.split(separator: ".").compactMap { Int($0) }
        guard parts.count == 3 else { return nil }
        return parts[0] * 1_000_000 + parts[1] * 1_000 + parts[2]
    }

    private func run(_ executable: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: output, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            XCTFail("\(executable) \(arguments.joined(separator: " ")) failed: \(text)")
            return text
        }
        return text
    }

    // MARK: Large input (opt-in)

    /// A ~300 MB GraphDef (three 100 MB Const tensors plus 200k small nodes). Opt in with
    /// TFREWRITE_LARGE_TESTS=1; it needs about 1 GB of memory.
    func testDecodes300MegabyteGraphDef() throws {
        guard ProcessInfo.processInfo.environment["TFREWRITE_LARGE_TESTS"] == "1" else {
            throw XCTSkip("set TFREWRITE_LARGE_TESTS=1 to decode a synthetic 300 MB GraphDef")
        }
        let elements = 25_000_000  // 100 MB of float32 each
        var graph = ProtoWriter()
        for k in 0..<3 {
            var content = [UInt8](repeating: 0, count: elements * 4)
            content[0] = UInt8(k + 1)
            graph.message(
                1, constNode("big\(k)", tensorProto(dtype: 1, dims: [Int64(elements)]) { $0.data(4, content) }))
        }
        for k in 0..<200_000 { graph.message(1, nodeProto("n\(k)", "Identity", inputs: ["big0"])) }
        XCTAssertGreaterThan(graph.bytes.count, 300_000_000)
        let start = Date()
        let decoded = try decodeGraph(graph)
        print("decoded \(graph.bytes.count) bytes in \(Date().timeIntervalSince(start)) s")
        XCTAssertEqual(decoded.nodes.count, 200_003)
        let values = try constTensor(decoded, 2).decodedValues(nodeName: "big2")
        XCTAssertEqual(values.count, elements)
        guard case .float(let floats) = values.elements else { return XCTFail("expected floats") }
        XCTAssertEqual(floats[0], Float(bitPattern: 3))
    }
}
