import ArgumentParser
import TFRewrite

struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run two models on the same inputs and report how far B is from A.",
        discussion: """
            Runs both models in tfrewrite's interpreter and reports, per output, the max and mean
            absolute error of B against A (int8 outputs dequantized) and how often their argmax
            agrees. --layers pairs intermediate tensors by the TF node they came from (then by
            name) and reports the same per layer, showing where quantization loses accuracy.

            --inputs takes real-valued samples (.npy with samples on axis 0, .npz with one array
            per input, or a folder of .npy files); a model with int8 inputs gets them quantized
            with its own input scale and zero point. Without --inputs, seeded random inputs are
            used (and the report says so).

            Exit codes: 0 ok; 1 an output's max abs error is above --max-abs-error; 2 bad input.
            """)

    @Argument(help: "The reference model (e.g. the float model): .tflite, GraphDef .pb or SavedModel.")
    var a: String
    @Argument(help: "The model to check against it (e.g. the int8 model).")
    var b: String

    @OptionGroup(title: "Resources")
    var memoryFlags: MemoryFlags

    @Option(help: "Input samples: .npy, .npz, folder of .npy files, or random:N.")
    var inputs: String?

    @Option(help: "Random samples to use without --inputs.")
    var count: Int = 10

    @Option(help: "Seed of the random samples.")
    var seed: UInt64 = 1

    @Flag(help: "Also compare intermediate tensors, paired by provenance or name.")
    var layers = false

    @OptionGroup(title: "Output")
    var common: CommonFlags

    @Option(name: .customLong("max-abs-error"), help: "Exit 1 when an output's max abs error is above this.")
    var maxAbsError: Double?

    func validate() throws {
        guard count > 0 else { throw ValidationError("--count must be positive") }
    }

    func run() throws {
        let ma = try ModelLoader.load(path: a)
        let mb = try ModelLoader.load(path: b)
        let specsA = ModelInputSpec.inputs(of: ma)
        let specsB = ModelInputSpec.inputs(of: mb)
        let samples: SampleSet
        if let inputs {
            samples = try SampleData.load(inputs, for: specsA, seed: seed)
        } else {
            // Real-valued random inputs; where either model takes int8, stay inside the range
            // its input parameters can represent.
            var realSpecs = specsA
            var ranges: [ClosedRange<Float>?] = []
            for k in realSpecs.indices {
                let quantized = [specsA[k]] + (k < specsB.count ? [specsB[k]] : [])
                let q = quantized.first { $0.quantization?.scale != nil && $0.dtype != .float32 }
                if let q, let qp = q.quantization, let s = qp.scale {
                    let p = AffineParameters(scale: s, zeroPoint: Int32(clamping: qp.zeroPoint ?? 0))
                    ranges.append(p.representableRange)
                    if realSpecs[k].dtype != .float32 { realSpecs[k].dtype = .float32 }
                } else {
                    ranges.append(nil)
                }
            }
            samples = try SampleData.random(count: count, for: realSpecs, seed: seed, floatRange: ranges)
        }
        let report = try VerifyReport.compare(ma, mb, samples: samples, layers: layers)
        writeStdout(common.json ? report.json(nameA: a, nameB: b).rendered() + "\n" : report.text(nameA: a, nameB: b))
        if let limit = maxAbsError, report.outputs.contains(where: { $0.stats.maxAbsError > limit }) {
            throw ToolExit(code: 1)
        }
    }
}
