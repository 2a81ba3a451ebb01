import ArgumentParser
import TFRewrite

/// Flags that choose the part of a TensorFlow graph to convert (tflite_convert's
/// --input_arrays / --input_shapes / --output_arrays), and a SavedModel's signature. They do not
/// apply to .tflite inputs.
struct ImportFlags: ParsableArguments {
    @Option(name: .customLong("input-arrays"), help: ArgumentHelp(
        "GraphDef/SavedModel: a node whose output becomes a model input; everything upstream is dropped (repeatable). SHAPE like 1,49,10; without it the shape comes from the graph.",
        valueName: "NAME[:SHAPE]"))
    var inputs: [String] = []

    @Option(name: .customLong("output-arrays"), help: ArgumentHelp(
        "GraphDef/SavedModel: a node whose output becomes a model output (repeatable; default: the nodes nothing reads).",
        valueName: "NAME"))
    var outputs: [String] = []

    @Option(name: .customLong("signature"), help: ArgumentHelp("SavedModel signature to convert (default serving_default).", valueName: "KEY"))
    var signature: String?

    /// With the graph cuts given under the deprecated spellings (`--input`, `--output`).
    func loadOptions(deprecatedInputs: [String] = [], deprecatedOutputs: [String] = []) throws -> ModelLoadOptions {
        try ModelLoadOptions(inputs: inputs + deprecatedInputs, outputs: outputs + deprecatedOutputs, signature: signature)
    }
}

/// The graph-cut spellings before `--input-arrays`/`--output-arrays` (convert and inspect),
/// kept for one release with a warning. Hidden from help.
struct DeprecatedGraphInputFlag: ParsableArguments {
    @Option(name: .customLong("input"), help: .hidden)
    var inputs: [String] = []

    func validate() throws {
        DeprecatedFlag.warnIfUsed(inputs, old: "--input NAME", new: "--input-arrays NAME")
    }
}
