import ArgumentParser
import Foundation
import TFRewrite

/// `convert --report out.html`: the model before and after the passes, side by side (as
/// `tfrewrite show BEFORE AFTER`), and the pass log: every pass that ran, in order, with the
/// ops left after it and whether it changed the model.
enum ConversionReport {
    static func validate(_ path: String?) throws {
        guard let path else { return }
        let ext = (path as NSString).pathExtension.lowercased()
        if ext != "html" && ext != "htm" && !OutputTransaction.isStream(path) {
            throw ValidationError("--report \(path): the report is an HTML page; name it .html")
        }
    }

    /// Watches the pipeline through the context's after-pass hook (which `--print-ir-after`
    /// chains onto). A pass changed the model when the model differs from the one before it.
    final class Recorder {
        private var passes: [(name: String, opsAfter: Int, changed: Bool?)] = []
        private var previous: Model?

        init(on context: inout PassContext) {
            let chained = context.afterPass
            context.afterPass = { [unowned self] name, model in
                chained?(name, model)
                passes.append((name, model.liveOpCount, previous.map { $0 != model }))
                previous = model
            }
        }

        /// The model the next pass starts from, when no pass ran before it (a .tflite input).
        func start(from model: Model) { if previous == nil { previous = model } }

        /// The log; a pass with nothing to compare against (the first import pass of a
        /// TensorFlow graph) counts as changing the model when it said it did.
        func log(_ context: PassContext) -> [ModelPicture.PassLogEntry] {
            passes.map { ModelPicture.PassLogEntry(pass: $0.name, opsAfter: $0.opsAfter, changed: $0.changed ?? context.changedPasses.contains($0.name)) }
        }
    }

    static func write(to path: String, before: Model, after: Model, input: String, output: String, recorder: Recorder, context: PassContext, in outputs: OutputTransaction) throws {
        let notes = context.notes + Conversion.statisticsLines(context).map { "stats: \($0)" }
        let page = ModelPicture.diffHTML(before, after, nameA: (input as NSString).lastPathComponent, nameB: (output as NSString).lastPathComponent,
                                         passLog: recorder.log(context), notes: notes)
        try outputs.stage(path) { try AtomicFile.writeAll($0, Array(page.utf8), path: path) }
    }
}
