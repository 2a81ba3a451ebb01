import ArgumentParser
import Foundation
import TFRewrite

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a .tflite model on the reference interpreter (float32, int8 bit-exact with TFLM).",
        discussion: """
            Inputs: one --input per model input (.npy), or one .npz keyed by input tensor name \
            (archive order when the names do not match), or a folder of .npy files (sorted by name).
            float64 arrays are converted to float32 for float inputs; other types must match.

            --batch: axis 0 of every input array indexes samples. Each sample has the model's \
            input shape, or that shape without its leading 1 (e.g. [N,1960] for a [1,1960] input). \
            The outputs of all samples are stacked along a new axis 0.

            Output: -o out.npy for a one-output model, -o out.npz (keyed by output tensor name) \
            for any model. A summary (shapes, types, time per inference) goes to stderr.
            """)

    @Argument(help: "A model: .tflite, frozen GraphDef .pb, or a SavedModel directory (run after import).")
    var model: String

    @OptionGroup(title: "TensorFlow graph inputs")
    var importFlags: ImportFlags

    @OptionGroup(title: "Output")
    var common: CommonFlags

    @Option(name: .long, help: "Input data: .npy, .npz or a folder of .npy files (repeat for several inputs).")
    var input: [String] = []

    @OptionGroup(title: "Resources")
    var memoryFlags: MemoryFlags

    @Option(name: .shortAndLong, help: "Where to write the outputs (.npy or .npz).")
    var output: String?

    @Flag(help: "Treat axis 0 of the inputs as a batch of samples and stack the outputs.")
    var batch = false

    @Option(help: "Run every inference this many times (for timing); the outputs of the last run are kept.")
    var `repeat`: Int = 1

    @Flag(help: "Keep the variable tensors (the memory of SVDF and LSTM streaming models) from one run to the next, as the device does between invokes; without it every run starts from the reset state.")
    var state = false

    func validate() throws {
        guard !input.isEmpty else { throw ValidationError("give the input data with --input") }
        guard `repeat` >= 1 else { throw ValidationError("--repeat must be at least 1") }
        if let o = output, !(o.hasSuffix(".npy") || o.hasSuffix(".npz")) {
            throw ValidationError("-o must name a .npy or .npz file")
        }
    }

    func run() throws {
        var m = try ModelLoader.load(path: model, options: try importFlags.loadOptions())
        // LiteRT evaluates the DEQUANTIZE of a float16 constant and the DENSIFY of a sparse
        // constant once, when it prepares the model, and its kernels read the dense float32
        // result (kernels/dequantize.cc, densify.cc); do the same, losslessly, so float16 and
        // sparse exports run.
        if m.subgraphs.contains(where: { g in g.ops.contains { !$0.isErased && ($0.builtinOperator == .densify || $0.builtinOperator == .dequantize) } }) {
            var context = PassContext()
            var fold = FoldFloat16Constants()
            var densify = DensifySparseConstants()
            _ = try fold.run(on: &m, context: &context)
            _ = try densify.run(on: &m, context: &context)
        }
        let interpreter: Interpreter
        do {
            interpreter = try Interpreter(model: m)
        } catch let e as InterpreterError {
            throw RunError("\(model): \(e)")
        }
        let arrays = try loadInputs(for: interpreter)
        // Samples: each a list of tensors, one per model input.
        var samples: [[RuntimeTensor]] = []
        var sampleCount = 1
        if batch {
            sampleCount = try batchSize(arrays, interpreter)
            guard sampleCount > 0 else { throw RunError("--batch: the inputs hold no samples (axis 0 has size 0)") }
            samples = try (0..<sampleCount).map { s in
                try zip(arrays, interpreter.inputs).enumerated().map { k, pair in try sample(pair.0, index: s, of: pair.1, input: k) }
            }
        } else {
            samples = [try zip(arrays, interpreter.inputs).enumerated().map { k, pair in
                try convert(pair.0.array, source: pair.0.source, to: pair.1, input: k)
            }]
        }

        var results: [[RuntimeTensor]] = []
        let clock = ContinuousClock()
        var total = Duration.zero
        var fastest: Duration?
        for s in samples {
            var last: [RuntimeTensor] = []
            for _ in 0..<`repeat` {
                if !state { interpreter.resetVariables() }
                let start = clock.now
                do {
                    last = try interpreter.run(s)
                } catch let e as InterpreterError {
                    if case .inputMismatch(let k, _, _) = e, k < arrays.count { throw RunError("\(arrays[k].source): \(e)") }
                    throw RunError("\(model): \(e)")
                }
                let d = clock.now - start
                total += d
                fastest = min(fastest ?? d, d)
            }
            results.append(last)
        }

        var outputs: [(name: String, tensor: RuntimeTensor)] = []
        for (k, info) in interpreter.outputs.enumerated() {
            let perSample = results.map { $0[k] }
            outputs.append((info.name, batch ? try stack(perSample, name: info.name) : perSample[0]))
        }
        if let path = output { try write(outputs, to: path) }

        let runs = samples.count * `repeat`
        let mean = Double(total.components.seconds) * 1e3 + Double(total.components.attoseconds) * 1e-15
        var summary = "tfrewrite run: \(model)\n"
        for (k, info) in interpreter.inputs.enumerated() {
            summary += "  input \(k) \(info.name): \(samples[0][k].typeDescription)\(batch ? " × \(sampleCount) samples" : "")\n"
        }
        for (k, o) in outputs.enumerated() {
            summary += "  output \(k) \(o.name): \(o.tensor.typeDescription)\n"
        }
        let best = fastest.map { Double($0.components.seconds) * 1e3 + Double($0.components.attoseconds) * 1e-15 } ?? 0
        summary += String(format: "  %d inference%@, %.3f ms each on average (fastest %.3f ms)\n", runs, runs == 1 ? "" : "s", mean / Double(runs), best)
        if let path = output { summary += "  wrote \(path)\n" }
        if common.json {
            func port(_ name: String, _ t: RuntimeTensor) -> JSON {
                .object([("name", .string(name)), ("dtype", .string(t.dtype.name.lowercased())), ("shape", .array(t.shape.map { .int(Int64($0)) }))])
            }
            let json = JSON.object([
                ("model", .string(model)),
                ("samples", .int(Int64(samples.count))),
                ("inputs", .array(zip(interpreter.inputs, samples[0]).map { port($0.0.name, $0.1) })),
                ("outputs", .array(outputs.map { port($0.name, $0.tensor) })),
                ("inferences", .int(Int64(runs))),
                ("mean_ms", .double(mean / Double(runs))),
                ("fastest_ms", .double(best)),
                ("wrote", output.map(JSON.string) ?? .null),
            ])
            writeStdout(json.rendered() + "\n")
        } else if !common.quiet {
            writeStderr(summary)
        }
    }

    // MARK: Inputs

    /// One array per model input, with where it came from (for messages).
    private func loadInputs(for interpreter: Interpreter) throws -> [(array: NpyArray, source: String)] {
        let wanted = interpreter.inputs
        var members: [(name: String, array: NpyArray, source: String)] = []
        for path in input {
            let loaded = try Npy.load(path: path)
            let single = loaded.count == 1 && !path.hasSuffix(".npz")
            members += loaded.map { ($0.name, $0.array, single ? path : "\(path)[\($0.name)]") }
        }
        // A single .npz: match by input tensor name, else take the archive order.
        if input.count == 1, input[0].hasSuffix(".npz") {
            var byName: [String: (NpyArray, String)] = [:]
            for m in members where byName[m.name] == nil { byName[m.name] = (m.array, m.source) }
            if wanted.allSatisfy({ byName[$0.name] != nil }) { return wanted.map { byName[$0.name]! } }
        }
        guard members.count == wanted.count else {
            throw RunError("the model has \(wanted.count) input\(wanted.count == 1 ? "" : "s") (\(wanted.map(\.name).joined(separator: ", "))) but \(members.count) array\(members.count == 1 ? " was" : "s were") given")
        }
        return members.map { ($0.array, $0.source) }
    }

    private func convert(_ a: NpyArray, source: String, to info: Interpreter.TensorInfo, input k: Int) throws -> RuntimeTensor {
        guard let t = a.tensor(convertingTo: info.dtype), t.dtype == info.dtype else {
            throw RunError("\(source): input \(k) (\(info.name)) is \(info.dtype.name) but the array is \(a.dtype.rawValue)")
        }
        if !batch && t.shape.count == info.shape.count + 1 && Array(t.shape.dropFirst()) == info.shape {
            throw RunError("\(source): shape \(t.shape) is a batch of \(t.shape[0]) inputs of shape \(info.shape); add --batch")
        }
        return t
    }

    /// How many samples the inputs hold along axis 0 (all inputs must agree).
    private func batchSize(_ arrays: [(array: NpyArray, source: String)], _ interpreter: Interpreter) throws -> Int {
        var n: Int?
        for (k, (item, info)) in zip(arrays, interpreter.inputs).enumerated() {
            let a = item.array
            let full = a.shape.count == info.shape.count + 1
            let squeezed = a.shape.count == info.shape.count && info.shape.first == 1
            guard full || squeezed, let first = a.shape.first else {
                throw RunError("\(item.source): --batch: input \(k) (\(info.name)) has shape \(a.shape); expected [N] + \(info.shape)\(info.shape.first == 1 ? " or [N] + \(Array(info.shape.dropFirst()))" : "")")
            }
            if let m = n, m != first { throw RunError("--batch: inputs hold different numbers of samples (\(m) and \(first))") }
            n = first
        }
        return n ?? 0
    }

    private func sample(_ item: (array: NpyArray, source: String), index s: Int, of info: Interpreter.TensorInfo, input k: Int) throws -> RuntimeTensor {
        let a = item.array
        let perSample = Array(a.shape.dropFirst())
        let shape = perSample.count == info.shape.count ? perSample : [1] + perSample
        let bytes = perSample.reduce(1, *) * a.dtype.itemSize
        let slice = NpyArray(dtype: a.dtype, shape: shape, data: Array(a.data[(s * bytes)..<((s + 1) * bytes)]))
        return try convert(slice, source: "\(item.source) sample \(s)", to: info, input: k)
    }

    // MARK: Outputs

    private func stack(_ tensors: [RuntimeTensor], name: String) throws -> RuntimeTensor {
        guard let first = tensors.first else {
            return RuntimeTensor.zeros(.float32, shape: [0])!
        }
        guard tensors.allSatisfy({ $0.shape == first.shape && $0.dtype == first.dtype }) else {
            throw RunError("output \(name) changes shape between samples; cannot stack")
        }
        let bytes = tensors.flatMap(\.littleEndianBytes)
        guard let t = RuntimeTensor(dtype: first.dtype, shape: [tensors.count] + first.shape, littleEndianBytes: bytes) else {
            throw RunError("cannot stack output \(name)")
        }
        return t
    }

    private func write(_ outputs: [(name: String, tensor: RuntimeTensor)], to path: String) throws {
        let arrays = try outputs.map { o -> (String, NpyArray) in
            guard let a = NpyArray(o.tensor) else { throw RunError("output \(o.name) has type \(o.tensor.dtype.name), which .npy cannot hold") }
            return (o.name, a)
        }
        if path.hasSuffix(".npz") {
            // Member names must be unique: a repeated tensor name gets its output index appended.
            var seen = Set<String>()
            let unique = arrays.enumerated().map { k, a -> (name: String, array: NpyArray) in
                let name = seen.insert(a.0).inserted ? a.0 : "\(a.0)_\(k)"
                seen.insert(name)
                return (name, a.1)
            }
            try Npy.writeNpz(unique, path: path)
        } else {
            guard arrays.count == 1 else {
                throw RunError("the model has \(arrays.count) outputs; write them with -o out.npz")
            }
            try Npy.write(arrays[0].1, path: path)
        }
    }
}

/// A CLI-level failure with its full one-line message.
struct RunError: Error, CustomStringConvertible {
    var description: String
    init(_ message: String) { description = message }
}
