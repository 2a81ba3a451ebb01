import Foundation
import XCTest

@testable import TFRewrite
@testable import Import

/// Which checkpoint entry a variable holds: through the object graph (TF2) and through the
/// saver's restore op (TF1-style resource variables), on hand-built SavedModels and bundles.
final class VariableBindingTests: XCTestCase {
    /// A NodeDef whose "value" is a string tensor (RestoreV2's tensor_names / shape_and_slices).
    static func stringConst(_ w: inout ProtoWriter, _ name: String, _ values: [String]) {
        w.message(1) { n in
            n.string(1, name)
            n.string(2, "Const")
            n.message(5) { e in
                e.string(1, "value")
                e.message(2) { v in
                    v.message(8) { t in
                        t.int(1, Int64(TFDataType.string.rawValue))
                        t.message(2) { writeShape(&$0, [Int64(values.count)]) }
                        for s in values { t.string(8, s) }
                    }
                }
            }
        }
    }

    /// x [1,2] · w [2,2] → y, with w a resource variable restored by RestoreV2 from `key`
    /// (TF1-style: no object graph), the restore op named in saver_def.
    static func savedModel(key: String, slice: String = "") -> [UInt8] {
        let nodes: [TestNode] = [
            .placeholder("x", [1, 2]),
            TestNode("w", "VarHandleOp", [], [("dtype", .type(.float)), ("shape", .shape([2, 2]))]),
            TestNode("read", "ReadVariableOp", ["w"], [("dtype", .type(.float))]),
            TestNode("mm", "MatMul", ["x", "read"], [("T", .type(.float))]),
            TestNode("y", "Identity", ["mm"], [("T", .type(.float))]),
            TestNode("prefix", "Placeholder", [], [("dtype", .type(.string))]),
            TestNode("restore", "RestoreV2", ["prefix", "names", "slices"]),
            TestNode("restored", "Identity", ["restore"]),
            TestNode("assign", "AssignVariableOp", ["w", "restored"]),
            TestNode("restore_all", "NoOp", ["^assign"]),
        ]
        var w = ProtoWriter()
        w.int(1, 1)
        w.message(2) { mg in
            mg.message(1) { $0.string(4, "serve") }
            mg.message(2) { g in
                for n in nodes { g.message(1) { n.write(&$0) } }
                stringConst(&g, "names", [key])
                stringConst(&g, "slices", [slice])
            }
            mg.message(3) { $0.string(1, "prefix:0"); $0.string(3, "restore_all") }
            mg.message(5) { entry in
                entry.string(1, "serving_default")
                entry.message(2) { sig in
                    sig.message(1) { e in e.string(1, "x"); e.message(2) { $0.string(1, "x:0"); $0.int(2, 1) } }
                    sig.message(2) { e in e.string(1, "y"); e.message(2) { $0.string(1, "y:0"); $0.int(2, 1) } }
                }
            }
        }
        return w.bytes
    }

    /// variables/variables.{index,data-00000-of-00001} holding `values` ([2,2] float) under `key`.
    static func writeBundle(in dir: URL, key: String, values: [Float], corruptCRC: Bool = false) throws {
        let data = values.flatMap { v in TensorBundleTests.le32(v.bitPattern) }
        var header = ProtoWriter()
        header.int(1, 1)
        var entry = ProtoWriter()
        entry.int(1, Int64(TFDataType.float.rawValue))
        entry.message(2) { writeShape(&$0, [2, 2]) }
        entry.int(5, Int64(data.count))
        entry.fixed32(6, CRC32C.mask(CRC32C.checksum(data)) ^ (corruptCRC ? 1 : 0))
        let index = TensorBundleTests.table([[([], header.bytes), (Array(key.utf8), entry.bytes)]])
        let variables = dir.appendingPathComponent("variables")
        try FileManager.default.createDirectory(at: variables, withIntermediateDirectories: true)
        try Data(index).write(to: variables.appendingPathComponent("variables.index"))
        try Data(data).write(to: variables.appendingPathComponent("variables.data-00000-of-00001"))
    }

    func testRestoreOpBindsTF1StyleResourceVariables() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(Self.savedModel(key: "dense/kernel")).write(to: dir.appendingPathComponent("saved_model.pb"))
        try Self.writeBundle(in: dir, key: "dense/kernel", values: [1, 2, 3, 4])
        let m = try ModelLoader.load(path: dir.path, options: ModelLoadOptions(verify: true))
        XCTAssertEqual(opNames(m), ["FULLY_CONNECTED"])
        // [1, 10] · [[1, 2], [3, 4]] = [31, 42]
        XCTAssertEqual(try runFloatModel(m, inputs: [[1, 10]]), [[31, 42]])
    }

    func testBundleProblemsAreNamed() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(Self.savedModel(key: "dense/kernel")).write(to: dir.appendingPathComponent("saved_model.pb"))
        try Self.writeBundle(in: dir, key: "other", values: [1, 2, 3, 4])
        XCTAssertThrowsError(try ModelLoader.load(path: dir.path)) { error in
            XCTAssertTrue("\(error)".hasSuffix("variables/variables.index: has no entry 'dense/kernel'"), "\(error)")
        }
        try Self.writeBundle(in: dir, key: "dense/kernel", values: [1, 2, 3, 4], corruptCRC: true)
        XCTAssertThrowsError(try ModelLoader.load(path: dir.path)) { error in
            XCTAssertTrue("\(error)".contains("variables.data-00000-of-00001: 'dense/kernel' fails its checksum"), "\(error)")
        }
        try Data(Self.savedModel(key: "dense/kernel", slice: "2 2 0,1:-")).write(to: dir.appendingPathComponent("saved_model.pb"))
        XCTAssertThrowsError(try ModelLoader.load(path: dir.path)) { error in
            XCTAssertTrue("\(error)".contains("is restored as a slice (2 2 0,1:-), a partitioned variable, which is not supported"), "\(error)")
        }
    }

    func testObjectGraphKeysFollowBoundInputs() throws {
        let graph = TFGraphDef(nodes: [
            TFNodeDef(name: "x", op: "Placeholder"),
            TFNodeDef(name: "v", op: "VarHandleOp"),
            TFNodeDef(name: "c", op: "Const"),
            TFNodeDef(name: "call", op: "StatefulPartitionedCall", inputs: ["x", "c", "v"], attrs: ["f": .func("f")]),
        ])
        let objects = TFObjectGraph(
            nodes: [
                .init(children: [(1, "layer")], variableName: nil),
                .init(children: [(2, "kernel"), (3, "const")], variableName: nil),
                .init(children: [], variableName: "dense/kernel"),
                .init(children: [], variableName: nil),
            ],
            boundInputs: ["f": [3, 2]])
        XCTAssertEqual(try VariableBinding.objectGraphKeys(graph, objectGraph: objects, path: "m"), ["v": "layer/kernel/.ATTRIBUTES/VARIABLE_VALUE"])
        var wrong = objects
        wrong.boundInputs["f"] = [2, 3]
        XCTAssertThrowsError(try VariableBinding.objectGraphKeys(graph, objectGraph: wrong, path: "m")) { error in
            XCTAssertEqual("\(error)", "SavedModel m: 'call' passes variable 'v' where the object graph has object 3, which is not a variable")
        }
        wrong.boundInputs["f"] = [0, 1, 2, 3]
        XCTAssertThrowsError(try VariableBinding.objectGraphKeys(graph, objectGraph: wrong, path: "m")) { error in
            XCTAssertTrue("\(error)".contains("has 3 inputs, fewer than the 4 captures"), "\(error)")
        }
    }
}
