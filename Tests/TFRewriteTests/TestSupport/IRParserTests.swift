import Foundation
import TestSupport
import XCTest

@testable import TFRewrite

/// `IRParser` reads what `IRPrinter` writes: print → parse → print gives the same text on every
/// golden file, fixture and corpus model, and bad text fails with the line and the problem.
final class IRParserTests: XCTestCase {
    /// Print, parse, print again. Digests of large constants differ (they come back as zeros),
    /// so they are compared as `sha256:…`; everything else must match byte for byte.
    func assertRoundTrip(_ text: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let again: String
        do {
            again = IRPrinter.print(try IRParser.parse(text))
        } catch {
            XCTFail("\(what): \(error)", file: file, line: line)
            return
        }
        let want = withoutDigests(text), got = withoutDigests(again)
        if want != got {
            let w = want.split(separator: "\n"), g = got.split(separator: "\n")
            let k = (0..<min(w.count, g.count)).first { w[$0] != g[$0] } ?? min(w.count, g.count)
            XCTFail("\(what) differs at line \(k + 1):\n  printed: \(k < w.count ? w[k] : "<end>")\n  again:   \(k < g.count ? g[k] : "<end>")", file: file, line: line)
        }
    }

    func withoutDigests(_ text: String) -> String {
        text.replacingOccurrences(of: #"sha256:[0-9a-f]{8}"#, with: "sha256:…", options: .regularExpression)
    }

    func testGoldenFilesRoundTrip() throws {
        let files = try FileManager.default.contentsOfDirectory(at: GoldenIR.directory, includingPropertiesForKeys: nil)
            .filter { $0.pathExtension == "ir" }.sorted { $0.path < $1.path }
        XCTAssertGreaterThanOrEqual(files.count, 6)
        for url in files {
            // A golden file is "# given", the IR, "# passes: …", "# result", the IR.
            var sections: [String] = []
            var current = ""
            for line in try String(contentsOf: url, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("# ") {
                    if !current.isEmpty { sections.append(current) }
                    current = ""
                } else if !line.isEmpty {
                    current += line + "\n"
                }
            }
            if !current.isEmpty { sections.append(current) }
            XCTAssertEqual(sections.count, 2, url.lastPathComponent)
            for (i, section) in sections.enumerated() {
                XCTAssertFalse(section.contains("sha256:"), "golden IR is exact: \(url.lastPathComponent)")
                try assertRoundTrip(section, "\(url.lastPathComponent) section \(i + 1)")
            }
        }
    }

    func testFixtureModelsRoundTrip() throws {
        let models = TestPaths.fixtureModels()
        XCTAssertGreaterThanOrEqual(models.count, 5)
        var opLines = 0
        for url in models {
            let text = IRPrinter.print(try TFLiteImporter.load(path: url.path))
            opLines += text.split(separator: "\n").filter { $0.hasPrefix("  #") }.count
            try assertRoundTrip(text, url.lastPathComponent)
        }
        XCTAssertGreaterThan(opLines, 50)
    }

    func testCorpusModelsRoundTrip() throws {
        let models = try TestPaths.corpusModels()
        XCTAssertFalse(models.isEmpty)
        for url in models {
            let text = IRPrinter.print(try TFLiteImporter.load(path: url.path))
            XCTAssertTrue(text.contains("  #0 "), url.lastPathComponent)
            try assertRoundTrip(text, url.lastPathComponent)
        }
    }

    func testParsedModelHoldsWhatTheTextSays() throws {
        let m = try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": i8[?,4] q(0.5, -3)
              const %1 "w": i8[2,4] q(axis 0: 2 scales, zp 0) = [1, -2, 3, -4, 5, -6, 7, -8]
              const %2 "b": i32[2] = [100, -100]
              const %5 "big": f32[17] = sha256:00000000
              #0 FULLY_CONNECTED v4 {keep_num_dims=true, act=RELU6} (%0, %1, %2) -> %3 "y": i8[?,2] q(0.25, 1)
              #2 ADD v1 {pot_scale_int16=false} (%3, %5) -> %4: f32[1,2]
              #3 MyCustomOp v1 (%4, %none) -> %6 "z": f32[1,2]
              output %6
            """)
        let g = m.subgraphs[0]
        XCTAssertEqual(g.name, "main")
        XCTAssertEqual(g.inputs, [ValueID(0)])
        XCTAssertEqual(g.outputs, [ValueID(6)])
        XCTAssertEqual(g.values.count, 7)
        XCTAssertEqual(g[ValueID(0)].shape, [1, 4])
        XCTAssertEqual(g[ValueID(0)].shapeSignature, [-1, 4])
        XCTAssertEqual(g[ValueID(0)].quantization, .perTensor(scale: 0.5, zeroPoint: -3))
        XCTAssertEqual(m.constant(ValueID(1))?.integers, [1, -2, 3, -4, 5, -6, 7, -8])
        XCTAssertEqual(g[ValueID(1)].quantization?.scales, [1, 1])
        XCTAssertEqual(m.constant(ValueID(2))?.integers, [100, -100])
        XCTAssertEqual(m.constant(ValueID(5))?.floats, Array(repeating: 0, count: 17))
        XCTAssertFalse(m.isConstant(ValueID(3)))
        XCTAssertEqual(g.ops.count, 4)
        XCTAssertTrue(g.ops[1].isErased, "#1 is not in the text: an erased op keeps the numbers")
        XCTAssertEqual(g.ops[0].kind, .fullyConnected(FullyConnectedAttributes(activation: .relu6, keepNumDims: true)))
        XCTAssertEqual(g.ops[0].version, 4)
        XCTAssertEqual(g.ops[2].kind, .add(ArithmeticAttributes(activation: .none, potScaleInt16: false)))
        XCTAssertEqual(g[ValueID(4)].name, "")
        XCTAssertEqual(g.ops[3].kind, .custom(code: "MyCustomOp"))
        XCTAssertEqual(g.ops[3].inputs, [ValueID(4), .absent])
        XCTAssertEqual(Verifier.verify(m).filter { !$0.description.contains("MyCustomOp") }.map(\.description), [])
    }

    func testOptionsComeBackTypedThroughTheTable() throws {
        // Every typed op the table declares: its default options print, parse back to the same kind.
        var checked = 0
        for definition in OperatorTable.all {
            guard let codec = definition.options, var kind = codec.defaultKind else { continue }
            kind.fusedActivation = .relu
            let op = Op(kind: kind, inputs: [], outputs: [])
            var model = Model(subgraphs: [Graph(name: "main", ops: [op])])
            model.subgraphs[0].values = []
            let text = IRPrinter.print(model)
            let parsed = try IRParser.parse(text)
            XCTAssertEqual(parsed.subgraphs[0].ops[0].kind, kind, text)
            checked += 1
        }
        XCTAssertGreaterThan(checked, 20)
    }

    func testOpaqueOptionsRoundTrip() throws {
        let options = OpaqueOptions(typeTag: 9, vtable: [4, 6], inline: [1, 0, 2, 0], alignmentPhase: 0,
                                    references: [3: .int32s([1, 2]), 4: .string("a, \"b\"}")])
        var g = Graph(name: "main")
        let x = g.addValue(Value(name: "x", type: ElementType(.float32), shape: [2]))
        let y = g.addValue(Value(name: "y", type: ElementType(.float32), shape: [2]))
        g.inputs = [x]
        g.outputs = [y]
        g.addOp(Op(kind: .builtin(.div, options: options), inputs: [x, x], outputs: [y]))
        let text = IRPrinter.print(Model(subgraphs: [g]))
        XCTAssertTrue(text.contains("options_type=9"), text)
        try assertRoundTrip(text, "opaque options")
        guard case .builtin(.div, let back?) = try IRParser.parse(text).subgraphs[0].ops[0].kind else { return XCTFail(text) }
        XCTAssertEqual(back.references, options.references)
        XCTAssertEqual(back.vtable.flatMap { [UInt8($0 & 0xff), UInt8($0 >> 8)] } + back.inline, [4, 0, 6, 0, 1, 0, 2, 0])
    }

    func testMalformedTextNamesTheLineAndTheProblem() {
        let header = "subgraph 0 \"main\"\n  input %0 \"x\": f32[1,4]\n"
        let cases: [(String, String)] = [
            ("", "line 1: no 'subgraph 0' line"),
            ("  input %0: f32[1]\n", "line 1: expected 'subgraph 0' before 'input %0: f32[1]'"),
            ("subgraph 1\n", "line 1: subgraph 1 out of order: expected subgraph 0"),
            (header + "  #0 CONV_3X v1 (%0) -> %1: f32[1,4]\n", "line 3: unknown op 'CONV_3X'"),
            (header + "  #0 RELU v1 (%0) -> %1: q32[1,4]\n", "line 3: unknown type 'q32'"),
            (header + "  #0 RELU v1 (%0 -> %1: f32[1,4]\n", "line 3: expected ')' after the op's inputs at ' -> %1: f32[1,4]'"),
            (header + "  #0 RELU (%0) -> %1: f32[1,4]\n", "line 3: expected the op version (v1) after RELU at ' (%0) -> %1: f32[1,4]'"),
            (header + "  #0 CONV_2D v1 {padding=SAME, stride=2} (%0) -> %1: f32[1,4]\n", "line 3: CONV_2D option stride must be HxW, got '2'"),
            (header + "  #0 CONV_2D v1 {padding=FULL, stride=1x1, dilation=1x1} (%0) -> %1: f32[1,4]\n", "line 3: CONV_2D option padding cannot be 'FULL'"),
            (header + "  #0 SOFTMAX v1 {alpha=1.0} (%0) -> %1: f32[1,4]\n", "line 3: SOFTMAX has no option 'alpha'"),
            (header + "  #0 RELU v1 {act=RELU} (%0) -> %1: f32[1,4]\n", "line 3: RELU has no fused activation"),
            (header + "  #0 CONV_2D v1 {padding=SAME} (%0) -> %1: f32[1,4]\n",
             "line 3: {padding=SAME} is not how CONV_2D prints its options (it would print {padding=SAME, stride=1x1, dilation=1x1})"),
            (header + "  const %1 \"c\": i8[2] = [1, 300]\n", "line 3: 300 does not fit i8"),
            (header + "  const %1 \"c\": i4[2] = [1, 2]\n", "line 3: a i4 constant is written as sha256:…, not as values"),
            (header + "  const %1 \"c\": f32[2] = [1, x]\n", "line 3: 'x' is not a float"),
            (header + "  input %0 \"x\": f32[1,5]\n", "line 3: %0 declared again with a different name or type (first on line 2)"),
            (header + "  #1 RELU v1 (%0) -> %1: f32[1,4]\n  #1 RELU v1 (%1) -> %2: f32[1,4]\n", "line 4: op #1 comes after #1: op numbers must increase"),
            (header + "  output %none\n", "line 3: a graph output cannot be %none"),
            (header + "  output\n", "line 3: expected input, const, output or an op (#0 …), got 'output'"),
            (header + "  input %2 \"q\": i8[1] q(0.5)\n", "line 3: expected ', ' and the zero point at ')'"),
            (header + "  #0 ADD v1 {act=RELU (%0, %0) -> %1: f32[1,4]\n", "line 3: options have no closing '}'"),
            (header + "  output %-1\n", "line 3: value numbers are 0 or more, got %-1"),
            (header + "  output %0\r\nsubgraph 2\n", "line 4: subgraph 2 out of order: expected subgraph 1"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try IRParser.parse(text), expected) { error in
                XCTAssertEqual("\(error)", expected)
            }
        }
    }

    /// TestSupport is for tests: no library or executable target may depend on it, except the
    /// fuzzing harness (FuzzSupport, which fuzzes its parser and is never linked into the tool)
    /// and tfrewrite-op-models (writes the one-op models scripts/measure-tflm-profile.py
    /// measures TFLM wheels with; a developer tool, not part of the product).
    func testOnlyTestTargetsDependOnTestSupport() throws {
        let manifest = try String(contentsOf: TestPaths.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        let declarations = manifest.components(separatedBy: "\n        .").dropFirst()
        var testTargetsUsingIt = 0
        for declaration in declarations where declaration.contains("\"TestSupport\"") {
            if declaration.hasPrefix("testTarget(") { testTargetsUsingIt += 1; continue }
            if declaration.hasPrefix("target(name: \"FuzzSupport\"") { continue }
            if declaration.hasPrefix("executableTarget(name: \"tfrewrite-op-models\"") { continue }
            XCTAssertTrue(declaration.hasPrefix("target(name: \"TestSupport\""), "only test targets may depend on TestSupport: \(declaration.prefix(80))")
        }
        XCTAssertGreaterThanOrEqual(testTargetsUsingIt, 1)
    }
}
