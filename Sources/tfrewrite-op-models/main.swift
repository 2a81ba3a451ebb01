import Foundation
import Ops
import TestSupport
import TFRewrite

// Writes the one-op models scripts/measure-tflm-profile.py runs on each TFLM wheel, with our
// own exporter: every DIR/NAME.ir (IR text, Docs/architecture.md) becomes DIR/NAME.vN.tflite
// for each op version N worth trying: 1, the lowest its types need (op_version.cc rules, as
// `legalize-op-versions` sets it) and the highest TFLite defines (runtime_version.cc).
// DIR/custom_codes.txt lists custom op codes to probe (see below).
// One JSON line per model on stdout: {"model": NAME, "op": OP, "minimum": M, "versions": [...]}.
//   tfrewrite-op-models DIR
//   tfrewrite-op-models --list-builtins     the builtin op names, a JSON list in schema order
let args = CommandLine.arguments
if args.count == 2, args[1] == "--list-builtins" {
    let names = BuiltinOperator.names.filter { BuiltinOperator(name: $0).map { $0 != .custom && $0 != .placeholderForGreaterOpCodes } ?? false }
    print(String(decoding: try JSONSerialization.data(withJSONObject: names), as: UTF8.self))
    exit(0)
}
guard args.count == 2 else {
    FileHandle.standardError.write(Data("usage: tfrewrite-op-models DIR | --list-builtins\n".utf8))
    exit(2)
}
let dir = URL(fileURLWithPath: args[1])
// DIR/custom_codes.txt: one custom op code a line, each probed as x: f32[1] -> CODE -> y: f32[1]
// (built here: IR text reads a capitalized name such as CIRCULAR_BUFFER as a misspelled builtin).
let customList = dir.appendingPathComponent("custom_codes.txt")
if let text = try? String(contentsOf: customList, encoding: .utf8) {
    for code in text.split(whereSeparator: \.isNewline).map(String.init) where !code.isEmpty {
        var g = Graph(name: "main")
        let x = g.addValue(Value(name: "x", type: ElementType(.float32), shape: [1]))
        let y = g.addValue(Value(name: "y", type: ElementType(.float32), shape: [1]))
        _ = g.addOp(Op(kind: .custom(code: code), inputs: [x], outputs: [y]))
        g.inputs = [x]
        g.outputs = [y]
        var model = Model()
        model.subgraphs = [g]
        try TFLiteExporter.write(model, to: dir.appendingPathComponent("custom__\(code).v1.tflite").path)
        let line: [String: Any] = ["model": "custom__\(code)", "op": code, "minimum": 1, "versions": [1]]
        print(String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self))
    }
}
let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".ir") }.sorted()
for name in names {
    let stem = String(name.dropLast(3))
    let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
    var model: Model
    do {
        model = try IRParser.parse(text)
    } catch {
        FileHandle.standardError.write(Data("tfrewrite-op-models: \(name):\(error.line): \(error.message)\n".utf8))
        exit(2)
    }
    let g = model.subgraphs[0]
    guard let opIndex = g.ops.indices.first(where: { !g.ops[$0].isErased }) else { continue }
    let op = g.ops[opIndex]
    let minimum = OpVersions.minimum(op, in: g, model: model)?.version ?? op.version
    let highest = op.kind.customCode == nil ? Int32(RuntimeVersions.table[op.builtinOperator.name]?.count ?? 0) : 0
    let versions = Set([1, minimum, max(highest, minimum)]).sorted()
    for v in versions {
        for i in model.subgraphs[0].ops.indices where !model.subgraphs[0].ops[i].isErased {
            model.subgraphs[0].ops[i].version = v
        }
        try TFLiteExporter.write(model, to: dir.appendingPathComponent("\(stem).v\(v).tflite").path)
    }
    let line: [String: Any] = ["model": stem, "op": op.name, "minimum": Int(minimum), "versions": versions.map { Int($0) }]
    let json = try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys])
    print(String(decoding: json, as: UTF8.self))
}
