import FlatBuffers
import Foundation
import XCTest

@testable import TFRewrite

/// Walks the operator table: one declaration per operator, every typed op kind declared with a
/// codec that round-trips through a .tflite file, and no other source file that switches over
/// operators or spells them as numbers.
final class OperatorTableTests: XCTestCase {
    /// One sample of every typed op kind, with options that differ from the schema defaults.
    static let typedKinds: [OpKind] = [
        .conv2D(Conv2DAttributes(padding: .valid, strideW: 2, strideH: 3, activation: .relu6, dilationW: 2, dilationH: 1)),
        .depthwiseConv2D(DepthwiseConv2DAttributes(padding: .same, strideW: 1, strideH: 2, depthMultiplier: 8, activation: .relu, dilationW: 1, dilationH: 3)),
        .fullyConnected(FullyConnectedAttributes(activation: .tanh, keepNumDims: true, asymmetricQuantizeInputs: true)),
        .averagePool2D(Pool2DAttributes(padding: .valid, strideW: 2, strideH: 2, filterW: 3, filterH: 5, activation: .none)),
        .maxPool2D(Pool2DAttributes(padding: .same, strideW: 1, strideH: 2, filterW: 2, filterH: 2, activation: .relu)),
        .reshape(newShape: [1, -1]),
        .reshape(newShape: nil),
        .softmax(beta: 0.5),
        .add(ArithmeticAttributes(activation: .relu)),
        .sub(ArithmeticAttributes(activation: .none, potScaleInt16: false)),
        .mul(activation: .reluN1To1),
        .mean(keepDims: true),
        .pad,
        .concatenation(axis: 3, activation: .relu),
        .quantize,
        .dequantize,
        .shape(outType: .int32),
        .stridedSlice(StridedSliceAttributes(beginMask: 1, endMask: 2, ellipsisMask: 0, newAxisMask: 0, shrinkAxisMask: 4, offset: true)),
        .pack(valuesCount: 2, axis: 1),
        .squeeze(dims: [1, 2]),
        .gather(axis: 1, batchDims: 1),
        .relu, .relu6, .logistic, .tanh,
    ]

    func testEveryCodeIsDeclaredOnce() {
        var seen: [Int32: Int] = [:]
        for d in OperatorTable.all { seen[d.op.code, default: 0] += 1 }
        XCTAssertEqual(seen.filter { $0.value > 1 }.keys.sorted(), [], "operators declared twice")
        XCTAssertGreaterThanOrEqual(OperatorTable.all.count, 50)
    }

    func testEveryTypedKindHasACodecKernelAndVersionRule() {
        for kind in Self.typedKinds {
            let def = OperatorTable[kind.builtinOperator]
            XCTAssertNotNil(def?.options, "\(kind.name): no options codec")
            XCTAssertNotNil(def?.kernel, "\(kind.name): no kernel")
            XCTAssertNotNil(def?.version, "\(kind.name): no version rule")
        }
    }

    /// Every typed kind survives export and import with its attributes, and the exporter writes
    /// the same table bytes again (the codec's encode and decode agree).
    func testTypedKindsRoundTripThroughATFLiteFile() throws {
        var g = Graph()
        for (i, kind) in Self.typedKinds.enumerated() {
            let x = g.addValue(Value(name: "x\(i)", type: ElementType(.float32), shape: [1]))
            let y = g.addValue(Value(name: "y\(i)", type: ElementType(.float32), shape: [1]))
            g.inputs.append(x)
            g.outputs.append(y)
            var op = Op(kind: kind, inputs: [x], outputs: [y])
            if kind == .pad { op.emptyOptionsTable = true }
            g.addOp(op)
        }
        let model = Model(subgraphs: [g])
        let bytes = TFLiteExporter.serialize(model).bytes()
        let back = try TFLiteImporter.decode(ByteStorage(copying: bytes))
        XCTAssertEqual(back.main.ops.map(\.kind), Self.typedKinds)
        XCTAssertEqual(back.main.ops.map(\.emptyOptionsTable), model.main.ops.map(\.emptyOptionsTable))
        XCTAssertEqual(TFLiteExporter.serialize(back).bytes(), bytes)
    }

    func testFusedActivationIsReadAndWrittenThroughTheTable() {
        var kind = OpKind.conv2D(Conv2DAttributes(padding: .same, strideW: 1, strideH: 1))
        XCTAssertEqual(kind.fusedActivation, ActivationFunction.none)
        kind.fusedActivation = .relu6
        XCTAssertEqual(kind.fusedActivation, .relu6)
        var relu = OpKind.relu
        relu.fusedActivation = .relu
        XCTAssertEqual(relu, .relu)
        XCTAssertNil(relu.fusedActivation)
    }

    /// Rules see one attribute name with one type and settability, whatever the op; the ops
    /// whose options carry a fused activation list `fused_activation`, and no other op does.
    func testAttributesAreDeclaredConsistently() {
        var seen: [String: (AttributeType, Bool)] = [:]
        for def in OperatorTable.all {
            let names = def.attributes.map(\.name)
            XCTAssertEqual(Set(names).count, names.count, "\(def.op.name): an attribute declared twice")
            XCTAssertEqual(names.contains("fused_activation"), def.activation != nil, def.op.name)
            for a in def.attributes {
                if let (type, settable) = seen[a.name] {
                    XCTAssertEqual(type, a.type, "\(a.name) on \(def.op.name)")
                    XCTAssertEqual(settable, a.settable, "\(a.name) on \(def.op.name)")
                }
                seen[a.name] = (a.type, a.settable)
            }
        }
        XCTAssertEqual(seen["alpha"]?.1, false)
    }

    /// Every typed kind reads each of its attributes, and writing back what it read changes nothing;
    /// writing another value changes the kind and reads back.
    func testAttributesReadAndWriteTheTypedKind() throws {
        for kind in Self.typedKinds {
            let def = try XCTUnwrap(OperatorTable[kind.builtinOperator])
            for a in def.attributes {
                let v = try XCTUnwrap(a.read(kind), "\(kind.name).\(a.name)")
                XCTAssertEqual(a.type, Self.type(of: v))
                guard let write = a.write else { continue }
                XCTAssertEqual(write(kind, v), kind, "\(kind.name).\(a.name)")
                let other = Self.otherValue(v)
                let changed = try XCTUnwrap(write(kind, other), "\(kind.name).\(a.name)")
                XCTAssertNotEqual(changed, kind, "\(kind.name).\(a.name)")
                XCTAssertEqual(a.read(changed), other, "\(kind.name).\(a.name)")
                XCTAssertNil(write(.custom(code: "x"), other))
            }
        }
        // Options kept opaquely have no typed attributes to write.
        let conv = try XCTUnwrap(OperatorTable[.conv2D]?.attributes.first { $0.name == "stride_w" })
        XCTAssertNil(conv.read(.builtin(.conv2D, options: nil)))
        XCTAssertNil(conv.write?(.builtin(.conv2D, options: nil), .int32(2)))
    }

    /// A rule's `insert:` makes the typed kind, not opaque options.
    func testEveryTypedKindDeclaresTheKindOfANewOp() throws {
        for kind in Self.typedKinds {
            let made = try XCTUnwrap(OperatorTable[kind.builtinOperator]?.options?.defaultKind, kind.name)
            XCTAssertEqual(made.builtinOperator, kind.builtinOperator)
            if case .builtin = made { XCTFail("\(kind.name): the default kind is opaque") }
        }
        XCTAssertEqual(OperatorTable[.conv2D]?.options?.defaultKind, .conv2D(Conv2DAttributes(padding: .same, strideW: 1, strideH: 1)))
    }

    static func type(of v: AttributeValue) -> AttributeType {
        switch v {
        case .int32: .int32
        case .int8: .int8
        case .bool: .bool
        case .float32: .float32
        case .padding: .padding
        case .activation: .activation
        case .dtype: .dtype
        case .int32List: .int32List
        }
    }

    static func otherValue(_ v: AttributeValue) -> AttributeValue {
        switch v {
        case .int32(let n): .int32(n + 1)
        case .int8(let n): .int8(n == 1 ? 0 : 1)
        case .bool(let b): .bool(!b)
        case .float32(let f): .float32(f + 1)
        case .padding(let p): .padding(p == .same ? .valid : .same)
        case .activation(let a): .activation(a == .relu ? .tanh : .relu)
        case .dtype(let t): .dtype(t == .int64 ? .int32 : .int64)
        case .int32List(let l): .int32List(l + [7])
        }
    }

    // MARK: - Nothing outside the table knows operators

    func testNoOtherFileSwitchesOverOperatorsOrSpellsTheirCodes() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let sources = root.appendingPathComponent("Sources")
        let names = Self.operatorCaseNames(root)
        // Names other enums use too (ActivationFunction.relu, the kernels' BinaryOperation.add,
        // ConstantTransform.reshape) count only beside names no other enum has.
        let shared = Self.otherEnumCaseNames(sources).intersection(names)
        XCTAssertGreaterThan(names.count, 40)
        XCTAssertTrue(shared.contains("relu") && !shared.contains("conv2D"))
        var switching: Set<String> = []
        var spellingCodes: [String] = []
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)!
        for case let url as URL in files where url.pathExtension == "swift" {
            let path = String(url.path.dropFirst(root.path.count + 1))
            let text = try String(contentsOf: url, encoding: .utf8)
            if text.range(of: #"BuiltinOperator\(\d+\)"#, options: .regularExpression) != nil { spellingCodes.append(path) }
            // The op table itself, and the enum of typed kinds it decodes into.
            if path.hasPrefix("Sources/Ops/Operators/") || path == "Sources/IR/OpKind.swift" { continue }
            var found: Set<String> = []
            for line in text.split(separator: "\n") {
                let l = line.trimmingCharacters(in: .whitespaces)
                guard l.hasPrefix("case .") || l.hasPrefix("case (.") else { continue }
                for m in l.matches(of: /\.([a-zA-Z0-9]+)\b/) where names.contains(String(m.1)) { found.insert(String(m.1)) }
            }
            if found.count >= 4 && found.subtracting(shared).count >= 2 { switching.insert(path) }
        }
        XCTAssertEqual(spellingCodes, ["Sources/IR/BuiltinOperator.swift"])
        XCTAssertEqual(switching.sorted(), [], "files switching over operators: declare the knowledge in Sources/Ops/Operators instead")
    }

    /// Case names declared by enums other than OpKind.
    static func otherEnumCaseNames(_ sources: URL) -> Set<String> {
        var names: Set<String> = []
        let files = FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil)!
        for case let url as URL in files where url.pathExtension == "swift" && url.lastPathComponent != "OpKind.swift" {
            let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n") {
                let l = line.trimmingCharacters(in: .whitespaces)
                guard l.hasPrefix("case "), !l.hasPrefix("case ."), !l.hasPrefix("case let"), !l.hasPrefix("case ("), !l.hasPrefix("case var") else { continue }
                for m in l.dropFirst(5).matches(of: /(?:^|,\s*)([a-zA-Z0-9]+)/) { names.insert(String(m.1)) }
            }
        }
        return names
    }

    /// The Swift names of the operators: BuiltinOperator's constants and OpKind's cases.
    static func operatorCaseNames(_ root: URL) -> Set<String> {
        var names: Set<String> = []
        for (file, pattern) in [("Sources/IR/BuiltinOperator.swift", #"static let (\w+) = BuiltinOperator"#), ("Sources/IR/OpKind.swift", #"^\s*case (\w+)"#)] {
            let text = (try? String(contentsOf: root.appendingPathComponent(file), encoding: .utf8)) ?? ""
            let re = try! NSRegularExpression(pattern: pattern, options: .anchorsMatchLines)
            for m in re.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                names.insert(String(text[Range(m.range(at: 1), in: text)!]))
            }
        }
        return names.subtracting(["builtin", "custom", "placeholderForGreaterOpCodes"])
    }
}
