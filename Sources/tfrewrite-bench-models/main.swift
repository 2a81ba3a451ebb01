import FlatBuffers
import Foundation
import TFRewrite

// Writes the synthetic models the benchmarks read (not committed: they are large).
//   tfrewrite-bench-models fc DIR [MB]          a FULLY_CONNECTED model with ~MB of float32 weights
//   tfrewrite-bench-models chain DIR N          .tflite chain of N ops (ADD, RELU alternating)
//   tfrewrite-bench-models relu-pb DIR N        frozen GraphDef: Placeholder + N Relu nodes in a chain
//   tfrewrite-bench-models subgraphs DIR N      .tflite with N small subgraphs
let usage = "usage: tfrewrite-bench-models fc DIR [MB] | chain DIR N | relu-pb DIR N | subgraphs DIR N\n"
let args = CommandLine.arguments
guard args.count >= 3 else {
    FileHandle.standardError.write(Data(usage.utf8))
    exit(2)
}
let dir = args[2]
let count = args.count > 3 ? Int(args[3]) : nil
switch (args[1], count) {
case ("fc", _):
    let megabytes = count ?? 100
    // Square weights [n, n] float32 with n·n·4 ≥ MB·10⁶ bytes.
    let n = Int((Double(megabytes) * 1_000_000 / 4).squareRoot().rounded(.up))
    var model = Model(description: "tfrewrite benchmark: FULLY_CONNECTED \(n)x\(n)")
    var g = Graph(name: "main")
    let x = g.addValue(Value(name: "x", type: ElementType(.float32), shape: [1, Int32(n)]))
    g.inputs = [x]
    model.subgraphs = [g]
    let w = model.addConstant(Value(name: "w", type: ElementType(.float32), shape: [Int32(n), Int32(n)]), data: ByteSlice(smallWeights(count: n * n, seed: 0)))
    let y = model.subgraphs[0].addValue(Value(name: "y", type: ElementType(.float32), shape: [1, Int32(n)]))
    model.subgraphs[0].addOp(Op(kind: .fullyConnected(FullyConnectedAttributes()), inputs: [x, w, .absent], outputs: [y]))
    model.subgraphs[0].outputs = [y]
    let path = dir + "/fc-\(megabytes)mb.tflite"
    try TFLiteExporter.write(model, to: path)
    print(path)
case ("chain", let n?) where n > 0:
    let path = dir + "/chain-\(n).tflite"
    try writeAddReluChain(count: n, to: path)
    print(path)
case ("relu-pb", let n?) where n > 0:
    let path = dir + "/relu-chain-\(n).pb"
    try writeReluGraphDef(count: n, to: path)
    print(path)
case ("subgraphs", let n?) where n > 0:
    let path = dir + "/subgraphs-\(n).tflite"
    try writeManySubgraphs(count: n, to: path)
    print(path)
default:
    FileHandle.standardError.write(Data(usage.utf8))
    exit(2)
}
