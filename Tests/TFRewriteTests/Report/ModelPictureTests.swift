import Foundation
import TestSupport
import XCTest

@testable import TFRewrite

/// `tfrewrite show`: the picture holds every op, the bytes are stable, the layout keeps boxes
/// apart, and the before/after pairing finds each op's counterpart by structure, not by order.
final class ModelPictureTests: XCTestCase {
    func fixture(_ name: String) throws -> Model { try ModelLoader.load(path: TestPaths.fixtures.appendingPathComponent(name).path) }

    /// Element id → the op names drawn under it.
    static func drawnOps(_ html: String) -> [String: [String]] {
        let pattern = try! NSRegularExpression(pattern: #"id="(\w+-op\d+)" data-op="([^"]+)""#)
        var out = [String: [String]]()
        for m in pattern.matches(in: html, range: NSRange(html.startIndex..., in: html)) {
            out[String(html[Range(m.range(at: 1), in: html)!]), default: []].append(String(html[Range(m.range(at: 2), in: html)!]))
        }
        return out
    }

    func count(_ needle: String, in text: String) -> Int { text.components(separatedBy: needle).count - 1 }

    func testEveryOpOfEverySubgraphIsDrawnOnce() throws {
        for url in TestPaths.fixtureModels() {
            let model = try ModelLoader.load(path: url.path)
            let html = ModelPicture.html(model, name: url.lastPathComponent)
            let drawn = Self.drawnOps(html)
            for (s, g) in model.subgraphs.enumerated() {
                for (i, op) in g.ops.filter({ !$0.isErased }).enumerated() {
                    XCTAssertEqual(drawn["m\(s)-op\(i)"], [op.name], "\(url.lastPathComponent) subgraph \(s) op \(i)")
                }
            }
            XCTAssertEqual(count("class=\"node op ", in: html), model.subgraphs.reduce(0) { $0 + $1.liveOpIDs.count }, url.lastPathComponent)
            XCTAssertFalse(html.replacingOccurrences(of: "http://www.w3.org/2000/svg", with: "").contains("//"), "the page loads nothing from the network")
            XCTAssertEqual(html, ModelPicture.html(model, name: url.lastPathComponent), "same model, same bytes")
        }
    }

    func testHoverTextCarriesQuantizationAndEdgesCarryShapes() throws {
        let model = try fixture("micro_speech_int8.tflite")
        let svg = ModelPicture.svg(model, name: "m")
        XCTAssertTrue(svg.contains("quantized: scale "), "quantization on hover")
        XCTAssertTrue(svg.contains("class=\"edge-label\">1×49×40 int8<") || svg.contains("int8</text>"), "edge labels give shape and type")
        XCTAssertTrue(svg.hasPrefix("<?xml"))
    }

    func testBoxesOfOneRankDoNotOverlap() throws {
        let model = try fixture("ds_cnn_float.tflite")
        let picture = GraphPicture(model: model, subgraph: 0, title: "t")
        let boxes = picture.nodes.indices.map { (y: picture.layout.nodes[$0].y, left: picture.layout.nodes[$0].x - picture.nodes[$0].width / 2, right: picture.layout.nodes[$0].x + picture.nodes[$0].width / 2) }
        for i in boxes.indices {
            for j in boxes.indices where j > i && boxes[i].y == boxes[j].y {
                XCTAssertTrue(boxes[i].right <= boxes[j].left || boxes[j].right <= boxes[i].left, "nodes \(i) and \(j) overlap")
            }
            XCTAssertGreaterThanOrEqual(boxes[i].left, 0)
            XCTAssertLessThanOrEqual(boxes[i].right, picture.layout.width)
        }
    }

    /// Three look-alike depthwise convolutions in parallel; the second model lists them in the
    /// opposite order under other tensor names. Order alone would pair the first with the first;
    /// the concatenation's operands say which is which.
    func testParallelDepthwiseConvolutionsPairByStructure() throws {
        func branches(_ names: [String], weights: [String], act: [String]) -> String {
            var text = """
                subgraph 0 "main"
                  input %0 "x": f32[1,4,4,1]
                  const %1 "w1": f32[1,1,1,2] = [1.0, 2.0]
                  const %2 "w2": f32[1,1,1,2] = [3.0, 4.0]
                  const %3 "w3": f32[1,1,1,2] = [5.0, 6.0]

                """
            for k in 0..<3 {
                text += "  #\(k) DEPTHWISE_CONV_2D v1 {padding=VALID, stride=1x1, dilation=1x1, depth_multiplier=2\(act[k])} (%0, \(weights[k]), %none) -> %\(4 + k) \"\(names[k])\": f32[1,4,4,2]\n"
            }
            return text + "  #3 CONCATENATION v1 {axis=3} (%4, %5, %6) -> %7 \"y\": f32[1,4,4,6]\n  output %7\n"
        }
        let a = try IRParser.parse(branches(["a", "b", "c"], weights: ["%1", "%2", "%3"], act: ["", "", ""]))
        // B's op k computes A's op 2-k; the concatenation reads them in A's order.
        var textB = branches(["t0", "t1", "t2"], weights: ["%3", "%2", "%1"], act: ["", ", act=RELU", ""])
        textB = textB.replacingOccurrences(of: "(%4, %5, %6) -> %7", with: "(%6, %5, %4) -> %7")
        let b = try IRParser.parse(textB)
        let pairing = OpPairing(a.main, b.main)
        XCTAssertEqual(pairing.partnerOfA, [2, 1, 0, 3])
        XCTAssertEqual(pairing.partnerOfB, [2, 1, 0, 3])
        let counts = ModelPicture.diffCounts(a, b)
        XCTAssertEqual(counts, ModelPicture.DiffCounts(same: 3, changed: 1, added: 0, removed: 0), "only the branch that gained a RELU differs")
    }

    func testRepairPairsTheReplacedConvolution() throws {
        let before = try fixture("micro_speech_float.tflite")
        var after = before
        var context = PassContext()
        try Conversion.run(try RuleSet.load(["micro"]), quantization: nil, on: &after, control: PipelineControl(), context: &context)
        let html = ModelPicture.diffHTML(before, after, nameA: "a", nameB: "b")
        let pairing = OpPairing(before.main, after.main)
        let conv = before.main.ops.firstIndex { $0.name == "CONV_2D" }!
        let partner = try XCTUnwrap(pairing.partnerOfA[conv])
        XCTAssertEqual(after.main.ops[partner].name, "DEPTHWISE_CONV_2D")
        XCTAssertTrue(html.contains("id=\"a0-op\(conv)\" data-op=\"CONV_2D\" data-index=\"\(conv)\" data-pair=\"b0-op\(partner)\""))
        XCTAssertTrue(html.contains("CONV_2D → DEPTHWISE_CONV_2D"))
    }

    /// Names come from the file: markup in them is escaped, and control characters XML cannot
    /// hold are replaced, so the SVG stays well-formed whatever the model says.
    func testNamesAreEscaped() throws {
        var model = try IRParser.parse("""
            subgraph 0 "main"
              input %0 "x": f32[1,4]
              #0 ABS v1 (%0) -> %1 "y": f32[1,4]
              output %1
            """)
        model.subgraphs[0].values[0].name = "<script>alert(1)</script>&\u{1}"
        let svg = ModelPicture.svg(model, name: "a\"b")
        XCTAssertFalse(svg.contains("<script>"))
        XCTAssertTrue(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt;&amp;\u{FFFD}"))
        XCTAssertFalse(svg.unicodeScalars.contains { $0.value < 0x20 && $0 != "\n" })
    }

    /// A 1000-op graph with skip connections renders every op (its speed is a benchmark's job).
    func testThousandOpsRender() throws {
        var text = "subgraph 0 \"main\"\n  input %0 \"x\": f32[1,8]\n  #0 ABS v1 (%0) -> %1 \"v1\": f32[1,8]\n"
        for k in 1..<1000 {
            text += "  #\(k) ADD v1 (%\(k), %\(max(k - 3, 0))) -> %\(k + 1) \"v\(k + 1)\": f32[1,8]\n"
        }
        text += "  output %1000\n"
        let model = try IRParser.parse(text)
        let html = ModelPicture.html(model, name: "big")
        XCTAssertEqual(count("class=\"node op ", in: html), 1000)
    }
}
