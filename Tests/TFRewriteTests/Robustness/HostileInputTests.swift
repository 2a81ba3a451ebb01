import Foundation
import XCTest

@testable import TFRewrite

/// Inputs built to hurt (issue 21's families): each must end in exit 2 with one
/// `tfrewrite: error:` line naming the problem, no output file, and well within 10 s.
final class HostileInputTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws {
        directory = try TestPaths.temporaryDirectory()
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: directory)
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func write(_ name: String, _ text: String) throws -> String {
        try text.write(toFile: path(name), atomically: false, encoding: .utf8)
        return path(name)
    }

    func write(_ name: String, _ bytes: [UInt8]) throws -> String {
        try Data(bytes).write(to: URL(fileURLWithPath: path(name)))
        return path(name)
    }

    /// Runs the CLI with `args` and checks the refusal: exit 2, one error line containing
    /// every one of `mentions`, nothing at `output`, under 10 seconds.
    func expectRefused(_ args: [String], mentions: [String], output: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        let start = Date()
        let r = try runTool(args)
        let seconds = Date().timeIntervalSince(start)
        XCTAssertEqual(r.status, 2, "stderr: \(r.stderr.prefix(500))", file: file, line: line)
        let lines = r.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, "stderr: \(r.stderr.prefix(500))", file: file, line: line)
        XCTAssertTrue(r.stderr.hasPrefix("tfrewrite: error: "), r.stderr, file: file, line: line)
        for m in mentions { XCTAssertTrue(r.stderr.contains(m), "'\(m)' not in: \(r.stderr.prefix(500))", file: file, line: line) }
        XCTAssertLessThan(r.stderr.count, 2000, "the error line should stay readable", file: file, line: line)
        if let output { XCTAssertFalse(FileManager.default.fileExists(atPath: output), "\(output) was written", file: file, line: line) }
        XCTAssertLessThan(seconds, 10, "took \(seconds) s", file: file, line: line)
    }

    var fixtureModel: String { TestPaths.fixtures.appendingPathComponent("micro_speech_float.tflite").path }

    /// Converts the float micro_speech fixture with `rules` and expects the refusal.
    func expectRulesRefused(_ rules: String, mentions: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let out = path("out.tflite")
        try expectRefused([fixtureModel, "-o", out, "--rules", rules], mentions: mentions, output: out, file: file, line: line)
        try expectRefused(["rules", "check", rules], mentions: mentions, file: file, line: line)
    }

    // MARK: Rules YAML

    func testDeeplyNestedYAMLIsRefused() throws {
        let n = 4000
        let flowList = try write("list.yaml", "rules: " + String(repeating: "[", count: n) + String(repeating: "]", count: n) + "\n")
        try expectRulesRefused(flowList, mentions: ["list.yaml:1:", "nested more than 256 levels"])
        let flowMap = try write("map.yaml", "rules: " + String(repeating: "{a: ", count: n) + "b" + String(repeating: "}", count: n) + "\n")
        try expectRulesRefused(flowMap, mentions: ["map.yaml:1:", "nested more than 256 levels"])
        let block = try write("block.yaml", (0..<n).map { String(repeating: " ", count: $0) + "k\($0):\n" }.joined() + String(repeating: " ", count: n) + "x\n")
        try expectRulesRefused(block, mentions: ["block.yaml:257:", "nested more than 256 levels"])
    }

    func testAliasExpansionIsBounded() throws {
        var lines = ["a0: &a0 [" + Array(repeating: "lol", count: 9).joined(separator: ", ") + "]"]
        for level in 1...8 { lines.append("a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 9).joined(separator: ", ") + "]") }
        lines.append("rules: *a8")
        let laughs = try write("laughs.yaml", lines.joined(separator: "\n") + "\n")
        try expectRulesRefused(laughs, mentions: ["laughs.yaml:", "expands to more than 1000000 nodes"])
        // Shallow aliases nested through each other are as deep as what they name.
        var deep = ["a0: &a0 " + String(repeating: "[", count: 200) + String(repeating: "]", count: 200)]
        deep.append("a1: &a1 " + String(repeating: "[", count: 200) + "*a0" + String(repeating: "]", count: 200))
        let deepAlias = try write("deep-alias.yaml", deep.joined(separator: "\n") + "\n")
        try expectRulesRefused(deepAlias, mentions: ["deep-alias.yaml:2:", "through alias *a0"])
    }

    /// One rule whose `where:` is `expression` (quoted for YAML).
    func ruleFile(where expression: String) -> String {
        """
        rules:
          - name: hostile
            match:
              op: RELU
              inputs: [x]
              outputs: [y]
              where: "\(expression)"
            rewrite:
              - erase: root

        """
    }

    func testDeeplyNestedRuleExpressionIsRefused() throws {
        let n = 30_000
        let parens = try write("parens.yaml", ruleFile(where: String(repeating: "(", count: n) + "true" + String(repeating: ")", count: n)))
        try expectRulesRefused(parens, mentions: ["parens.yaml:7: rule hostile: where:", "nested more than 256 levels", "(60004 characters)"])
        let brackets = try write("brackets.yaml", ruleFile(where: String(repeating: "[", count: n) + String(repeating: "]", count: n) + " == 1"))
        try expectRulesRefused(brackets, mentions: ["brackets.yaml:7:", "nested more than 256 levels"])
        let negations = try write("not.yaml", ruleFile(where: String(repeating: "not ", count: n) + "true"))
        try expectRulesRefused(negations, mentions: ["not.yaml:7:", "nested more than 256 levels"])
        // A flat chain is as deep a tree as nesting for the checker and the evaluator.
        let chain = try write("chain.yaml", ruleFile(where: Array(repeating: "true", count: n).joined(separator: " and ")))
        try expectRulesRefused(chain, mentions: ["chain.yaml:7:", "nested more than 256 levels"])
    }

    // MARK: Model and data files that are not regular files

    func testFIFOsAndDevicesAreRefusedAsModels() throws {
        let out = path("out.tflite")
        let fifoModel = path("fifo-model")
        try FileManager.default.createDirectory(atPath: fifoModel, withIntermediateDirectories: true)
        XCTAssertEqual(mkfifo(fifoModel + "/saved_model.pb", 0o600), 0)
        try expectRefused([fifoModel, "-o", out], mentions: ["saved_model.pb", "is a FIFO"], output: out)
        try expectRefused([fifoModel + "/saved_model.pb", "-o", out], mentions: ["is a FIFO"], output: out)

        let zeroModel = path("zero-model")
        try FileManager.default.createDirectory(atPath: zeroModel, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(atPath: zeroModel + "/saved_model.pb", withDestinationPath: "/dev/zero")
        try expectRefused([zeroModel, "-o", out], mentions: ["saved_model.pb", "is a device"], output: out)
        try expectRefused(["/dev/zero", "-o", out], mentions: ["/dev/zero", "is a device"], output: out)
        try expectRefused(["inspect", "/dev/zero"], mentions: ["/dev/zero", "is a device"])
    }

    func testFIFOsAndDevicesAreRefusedAsData() throws {
        let fifo = path("samples.npy")
        XCTAssertEqual(mkfifo(fifo, 0o600), 0)
        let out = path("out.npy")
        try expectRefused(["run", fixtureModel, "--input", fifo, "-o", out], mentions: ["samples.npy", "is a FIFO"], output: out)
        try expectRefused(["run", fixtureModel, "--input", "/dev/zero", "-o", out], mentions: ["/dev/zero", "is a device"], output: out)
        let converted = path("out.tflite")
        try expectRefused([fixtureModel, "-o", converted, "--quantize", "int8", "--calibration", fifo], mentions: ["is a FIFO"], output: converted)
    }

    /// A garbage `frozen.pb` that looks like a SavedModel (first byte 0x08) beside a valid
    /// saved_model.pb: the named file is read, and refused, never its sibling.
    func testTheNamedFileIsTheFileConverted() throws {
        let dir = path("sibling")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: TestPaths.savedModel("tiny_conv") + "/saved_model.pb", toPath: dir + "/saved_model.pb")
        let garbage = dir + "/frozen.pb"
        try Data([0x08, 0xff, 0xff, 0xff, 0xff, 0x67, 0x61, 0x72, 0x62, 0x61, 0x67, 0x65]).write(to: URL(fileURLWithPath: garbage))
        let out = path("out.tflite")
        try expectRefused([garbage, "-o", out], mentions: ["frozen.pb"], output: out)
        // The SavedModel proto itself, named as a file, still converts.
        let r = try runTool([dir + "/saved_model.pb", "-o", out])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    // MARK: Calibration data

    /// An .npz whose directory lists `copies` entries that all point at one stored member.
    func overlappingArchive(memberBytes: Int, copies: Int) throws -> [UInt8] {
        let member = Npy.encode(NpyArray(dtype: .float32, shape: [memberBytes / 4], data: [UInt8](repeating: 0, count: memberBytes)))
        let one = try Zip.storedArchive([("x.npy", member)])
        func u32(_ at: Int) -> Int { (0..<4).reduce(0) { $0 | Int(one[at + $1]) << (8 * $1) } }
        func le(_ v: Int, _ n: Int) -> [UInt8] { (0..<n).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
        // The end-of-central-directory record is the last 22 bytes (no comment): size at +12, offset at +16.
        let eocd = one.count - 22
        let directoryOffset = u32(eocd + 16), directorySize = u32(eocd + 12)
        let entry = one[directoryOffset..<(directoryOffset + directorySize)]
        var out = Array(one[..<directoryOffset])
        for _ in 0..<copies { out += entry }
        out += [0x50, 0x4B, 5, 6] + le(0, 4) + le(copies, 2) + le(copies, 2) + le(copies * entry.count, 4) + le(directoryOffset, 4) + le(0, 2)
        return out
    }

    func testOverlappingNpzMembersAreRefused() throws {
        let bomb = try write("bomb.npz", try overlappingArchive(memberBytes: 1 << 20, copies: 5000))
        let out = path("out.npz")
        try expectRefused(["run", fixtureModel, "--input", bomb, "-o", out], mentions: ["bomb.npz", "overlap"], output: out)
        let converted = path("out.tflite")
        try expectRefused([fixtureModel, "-o", converted, "--quantize", "int8", "--calibration", bomb], mentions: ["bomb.npz", "overlap"], output: converted)
        try expectRefused(["verify", fixtureModel, fixtureModel, "--inputs", bomb], mentions: ["bomb.npz", "overlap"])
        // One member is a valid archive.
        XCTAssertEqual(try Npy.decodeNpz(try overlappingArchive(memberBytes: 64, copies: 1), path: "one.npz").count, 1)
    }

    // MARK: Custom rewrites that never stop

    /// A frozen GraphDef x [1,4] → Relu.
    func reluGraph() throws -> String {
        try write("relu.pb", graphDefBytes([.placeholder("x", [1, 4]), TestNode("r", "Relu", ["x"], [("T", .type(.float))])]))
    }

    func testARewriteThatMatchesItsOwnResultIsStopped() throws {
        let rules = try write("grow.yaml", """
            rules:
              - name: grow
                match: { op: RELU, inputs: [x], outputs: [y] }
                rewrite:
                  - tensor: { bind: t, like: y, name: "{y.name}/g" }
                  - insert: { op: RELU, inputs: [x], outputs: [t] }
                  - insert: { op: RELU, inputs: [t], outputs: [y] }
                  - erase: root

            """)
        let out = path("out.tflite")
        try expectRefused([try reluGraph(), "-o", out, "--rules", rules], mentions: ["relu.pb", "rule grow (", "grow.yaml:2)", "keeps growing subgraph 0"], output: out)
    }

    func testANameTemplateThatDoublesIsStopped() throws {
        let rules = try write("double.yaml", """
            rules:
              - name: double
                match: { op: RELU, inputs: [x], outputs: [y] }
                rewrite:
                  - set: { y.name: "{y.name}{y.name}" }

            """)
        let out = path("out.tflite")
        try expectRefused([try reluGraph(), "-o", out, "--rules", rules], mentions: ["rule double", "double.yaml:2", "longer than 65536 bytes"], output: out)
    }

    // MARK: Constant folding

    /// x [1, columns] + (p [rows, 1] ⊕ q [1, columns]): two tiny constants that broadcast to rows × columns.
    func broadcastingConstants(_ op: String, rows: Int64, columns: Int64) throws -> String {
        try write("broadcast.pb", graphDefBytes([
            .placeholder("x", [1, columns]),
            .const("p", .floats(Array(repeating: 0.5, count: Int(rows)), [rows, 1])),
            .const("q", .floats(Array(repeating: 0.25, count: Int(columns)), [1, columns])),
            TestNode("pq", op, ["p", "q"], [("T", .type(.float))]),
            TestNode("sum", "Add", ["x", "pq"], [("T", .type(.float))]),
        ]))
    }

    func testFoldingPastTheMemoryBudgetIsRefused() throws {
        let graph = try broadcastingConstants("Mul", rows: 1024, columns: 2048)
        let out = path("out.tflite")
        try expectRefused([graph, "-o", out, "--max-memory", "16M"],
                          mentions: ["folding MUL", "tensor \"pq\"", "[1024, 2048]", "48.0 MiB", "memory budget of 16.0 MiB", "--max-memory"], output: out)
        try expectRefused(["inspect", graph, "--max-memory", "16M"], mentions: ["folding MUL"])
        // Within the budget the same graph folds and converts.
        let r = try runTool([graph, "-o", out, "--max-memory", "1G"])
        XCTAssertEqual(r.status, 0, r.stderr)
    }

    // MARK: GraphDef shape arithmetic

    func testHugeAudioSpectrogramWindowIsRefused() throws {
        let graph = try write("spectrogram.pb", graphDefBytes([
            .placeholder("wav", [16000, 1]),
            TestNode("spectrogram", "AudioSpectrogram", ["wav"], [("window_size", .i(1 << 62 + 1)), ("stride", .i(320))]),
            .const("rate", .ints([16000], [])),
            TestNode("mfcc", "Mfcc", ["spectrogram", "rate"], [("dct_coefficient_count", .i(10))]),
            TestNode("relu", "Relu", ["mfcc"], [("T", .type(.float))]),
        ]))
        let out = path("out.tflite")
        try expectRefused([graph, "-o", out, "--input-arrays", "mfcc"], mentions: ["--input-arrays mfcc", "AudioSpectrogram 'spectrogram'", "window_size 4611686018427387905"], output: out)
    }

    func testMostNegativeAttributeIsRefused() throws {
        let graph = try write("strides.pb", graphDefBytes(smallConvGraph().map { node in
            guard node.name == "conv" else { return node }
            var hostile = node
            hostile.attrs = node.attrs.map { $0.0 == "strides" ? ("strides", .ints([1, Int64.min, Int64.min, 1])) : $0 }
            return hostile
        }))
        let out = path("out.tflite")
        try expectRefused([graph, "-o", out], mentions: ["conv", "strides", "out of range"], output: out)
    }

    // MARK: .tflite quantization parameters

    /// The tiny FULLY_CONNECTED model with its input made int8 with `quantization`.
    func modelWithInputQuantization(_ quantization: Quantization, name: String) throws -> String {
        var m = tinyFullyConnectedModel()
        let x = m.subgraphs[0].inputs[0]
        m.subgraphs[0].values[x.index].type = ElementType(.int8, quantization: quantization)
        let file = path(name)
        try TFLiteExporter.write(m, to: file)
        return file
    }

    func testHostileQuantizationParametersAreRefusedAtLoad() throws {
        let cases: [(String, Quantization, String)] = [
            ("nan.tflite", .perTensor(scale: .nan, zeroPoint: 0), "quantization scale nan is not positive and finite"),
            ("negative.tflite", .perTensor(scale: -1, zeroPoint: 0), "quantization scale -1.0 is not positive and finite"),
            ("infinite.tflite", .perTensor(scale: .infinity, zeroPoint: 0), "quantization scale inf is not positive and finite"),
            ("zp.tflite", .perTensor(scale: 0.5, zeroPoint: .max), "zero point 9223372036854775807 is outside the INT8 range -128...127"),
            ("counts.tflite", Quantization(scales: [0.5], zeroPoints: [0, 1]), "1 quantization scale(s) but 2 zero point(s)"),
            ("axis.tflite", Quantization(scales: [0.5, 0.25], zeroPoints: [0, 0], axis: 7), "per-channel scales along axis 7"),
        ]
        for (name, q, message) in cases {
            let model = try modelWithInputQuantization(q, name: name)
            try expectRefused(["verify", model, model], mentions: ["tensor 0 \"x\"", message])
            let out = path("out.npy")
            let input = try write("x.npy", Npy.encode(NpyArray(dtype: .int8, shape: [1, 4], data: [1, 2, 3, 4])))
            try expectRefused(["run", model, "--input", input, "-o", out], mentions: [message], output: out)
            let converted = path("out.tflite")
            try expectRefused([model, "-o", converted], mentions: [message], output: converted)
        }
    }

    /// The fuzzer's first pipeline find (Tests/FuzzCrashes/pipeline): qdq_float_io.tflite with
    /// an int32 bias whose zero point is 838860800. The loader cannot see it (it needs the op),
    /// TFLM ignores it and LiteRT's XNNPACK refuses it; converting it used to exit 0 with an
    /// output the verifier rejects. Now the conversion refuses the input.
    func testABiasWithANonzeroZeroPointIsRefused() throws {
        let crashes = TestPaths.root.appendingPathComponent("Tests/FuzzCrashes/pipeline")
        let model = crashes.appendingPathComponent("crash-38ac1af03eb02e69280b3be8d14dcbdd38347cb6").path
        let out = path("out.tflite")
        for rules in [[], ["--rules", "micro"]] {
            try expectRefused([model, "-o", out] + rules, mentions: ["int32 bias", "must have zero point 0"], output: out)
        }
    }

    /// The long pipeline fuzzing run's find: DS_CNN with a dynamic batch whose SHAPE output
    /// declares 4194307 elements. It verifies while the batch is unknown; `--rules micro` fixes
    /// the batch, and the declared shape then contradicts the op. The conversion used to write
    /// that model with exit 0; now nothing is written.
    func testDeclaredShapesThatContradictTheOpsOnceStaticAreRefused() throws {
        let crashes = TestPaths.root.appendingPathComponent("Tests/FuzzCrashes/pipeline")
        let model = crashes.appendingPathComponent("crash-9ef9735b748a7dc7f63e3b76d2689126556ac987").path
        let out = path("out.tflite")
        try expectRefused([model, "--rules", "micro", "-o", out], mentions: ["would be invalid", "SHAPE #0", "[4194307]"], output: out)
    }

    // MARK: Activations

    /// x [1, 4] → `chain` RELUs whose outputs each declare `elements` floats → y. x's batch is
    /// dynamic, so the verifier cannot tell the outputs' shapes are wrong and the memory budget
    /// is what refuses the model.
    func modelWithDeclaredActivations(elements: Int32, chain: Int, name: String) throws -> String {
        var m = Model(description: "huge activations")
        var g = Graph(name: "main")
        var previous = g.addValue(Value(name: "x", type: ElementType(.float32), shape: [1, 4], shapeSignature: [-1, 4]))
        g.inputs = [previous]
        for k in 0..<chain {
            let next = g.addValue(Value(name: "relu\(k)", type: ElementType(.float32), shape: [1, elements]))
            g.addOp(Op(kind: .relu, inputs: [previous], outputs: [next]))
            previous = next
        }
        g.outputs = [previous]
        m.subgraphs = [g]
        let file = path(name)
        try TFLiteExporter.write(m, to: file)
        return file
    }

    func testActivationsPastTheMemoryBudgetAreRefused() throws {
        // Seven tensors of 2 GiB each: 14 GiB of activations from a file of a few hundred bytes.
        let model = try modelWithDeclaredActivations(elements: 1 << 29, chain: 7, name: "huge.tflite")
        XCTAssertLessThan(try FileManager.default.attributesOfItem(atPath: model)[.size] as! Int, 4096)
        try expectRefused(["verify", model, model, "--max-memory", "1G"], mentions: ["allocating the interpreter's tensors (up to relu0 of shape [1, 536870912]", "memory budget of 1.0 GiB"])
        let input = try write("x.npy", Npy.encode(NpyArray(dtype: .float32, shape: [1, 4], data: [UInt8](repeating: 0, count: 16))))
        let out = path("out.tflite")
        try expectRefused([model, "-o", out, "--quantize", "int8", "--calibration", input, "--max-memory", "1G"], mentions: ["memory budget of 1.0 GiB"], output: out)
        let npyOut = path("out.npy")
        try expectRefused(["run", model, "--input", input, "-o", npyOut, "--max-memory", "1G"], mentions: ["memory budget of 1.0 GiB"], output: npyOut)
    }
}
