import ArgumentParser
import Foundation
import TFRewrite

struct Show: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw a model's graph, or two models before/after, as a self-contained HTML page or an SVG.",
        discussion: """
            tfrewrite show MODEL -o graph.html (or .svg) draws every subgraph: ops as boxes \
            (name, version, fused activation), arrows labelled with tensor shapes and types, \
            quantization and options on hover. tfrewrite show BEFORE AFTER -o diff.html draws \
            both side by side with changed, added and removed ops highlighted. \
            Docs/pictures.md explains the picture and how ops are paired.
            """)

    @Argument(help: "A model: .tflite, frozen GraphDef .pb, or a SavedModel directory (drawn after import).")
    var model: String

    @Argument(help: "A second model: draw MODEL (before) and this one (after) side by side.")
    var after: String?

    @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("Output file: .html (a page) or .svg (one image).", valueName: "file"))
    var output: String

    @OptionGroup(title: "TensorFlow graph inputs")
    var importFlags: ImportFlags

    @OptionGroup(title: "Resources")
    var memoryFlags: MemoryFlags

    @OptionGroup(title: "Output")
    var common: CommonFlags

    enum Form: String { case html, svg }

    /// .html/.htm a page, .svg an image; a device or pipe (/dev/stdout) gets the page.
    var form: Form? {
        switch (output as NSString).pathExtension.lowercased() {
        case "html", "htm": .html
        case "svg": .svg
        default: OutputTransaction.isStream(output) ? .html : nil
        }
    }

    func validate() throws {
        if form == nil {
            let ext = (output as NSString).pathExtension
            throw ValidationError("-o \(output): \(ext.isEmpty ? "no extension" : "unknown extension '.\(ext)'"); write .html or .svg; nothing written")
        }
    }

    func run() throws {
        var inputs = [(what: "model", path: model)]
        if let after { inputs.append((what: "model", path: after)) }
        try OutputCollisions.check(outputs: [("-o", output)], inputs: inputs, mayReplaceModel: nil)
        let options = try importFlags.loadOptions()
        let first = try ModelLoader.load(path: model, options: options)
        let second = try after.map { try ModelLoader.load(path: $0, options: options) }
        let nameA = (model as NSString).lastPathComponent
        let text: String
        var fields: [(String, JSON)] = [("output", .string(output)), ("format", .string(form!.rawValue))]
        var line: String
        if let second, let after {
            let nameB = (after as NSString).lastPathComponent
            text = form == .svg
                ? ModelPicture.diffSVG(first, second, nameA: nameA, nameB: nameB)
                : ModelPicture.diffHTML(first, second, nameA: nameA, nameB: nameB)
            let c = ModelPicture.diffCounts(first, second)
            fields += [
                ("models", .array([.string(model), .string(after)])),
                ("ops", .array([.int(Int64(first.liveOpCount)), .int(Int64(second.liveOpCount))])),
                ("unchanged", .int(Int64(c.same))), ("changed", .int(Int64(c.changed))),
                ("removed", .int(Int64(c.removed))), ("added", .int(Int64(c.added))),
            ]
            line = "\(nameA) → \(nameB): \(c.changed) changed, \(c.removed) removed, \(c.added) added, \(c.same) unchanged"
        } else {
            text = form == .svg ? ModelPicture.svg(first, name: nameA) : ModelPicture.html(first, name: nameA)
            fields += [("models", .array([.string(model)])), ("ops", .array([.int(Int64(first.liveOpCount))]))]
            line = "\(nameA): \(first.liveOpCount) ops in \(first.subgraphs.count) subgraph(s)"
        }
        let outputs = OutputTransaction()
        try outputs.stage(output) { try AtomicFile.writeAll($0, Array(text.utf8), path: output) }
        try outputs.commit()
        if common.json {
            writeStdout(JSON.object(fields).rendered() + "\n")
        } else if !common.quiet {
            writeStderr("tfrewrite: wrote \(output): \(line)\n")
        }
    }
}
