import FlatBuffers
import Foundation
import TFRewrite

// Writes the synthetic models the benchmarks read (not committed: they are large).
//   tfrewrite-bench-models fc DIR [MB]   a FULLY_CONNECTED model with ~MB of float32 weights
let args = CommandLine.arguments
guard args.count >= 3, args[1] == "fc" else {
    FileHandle.standardError.write(Data("usage: tfrewrite-bench-models fc DIR [MB]\n".utf8))
    exit(2)
}
let dir = args[2]
let megabytes = args.count > 3 ? Int(args[3]) ?? 100 : 100
// Square weights [n, n] float32 with n·n·4 ≥ MB·10⁶ bytes.
let n = Int((Double(megabytes) * 1_000_000 / 4).squareRoot().rounded(.up))
var weights = [UInt8](repeating: 0, count: n * n * 4)
var state: UInt32 = 12345
weights.withUnsafeMutableBytes { raw in
    let f = raw.bindMemory(to: Float.self)
    for i in 0..<(n * n) {
        state = state &* 1_664_525 &+ 1_013_904_223
        f[i] = Float(Int32(bitPattern: state >> 8) - 0x80_0000) / Float(0x80_0000) * 0.05
    }
}
var model = Model(description: "tfrewrite benchmark: FULLY_CONNECTED \(n)x\(n)")
var g = Graph(name: "main")
let x = g.addValue(Value(name: "x", type: ElementType(.float32), shape: [1, Int32(n)]))
g.inputs = [x]
model.subgraphs = [g]
let w = model.addConstant(Value(name: "w", type: ElementType(.float32), shape: [Int32(n), Int32(n)]), data: ByteSlice(weights))
let y = model.subgraphs[0].addValue(Value(name: "y", type: ElementType(.float32), shape: [1, Int32(n)]))
model.subgraphs[0].addOp(Op(kind: .fullyConnected(FullyConnectedAttributes()), inputs: [x, w, .absent], outputs: [y]))
model.subgraphs[0].outputs = [y]
let path = dir + "/fc-\(megabytes)mb.tflite"
try TFLiteExporter.write(model, to: path)
print(path)
