import ArgumentParser
import TFRewrite

enum OnOff: String, ExpressibleByArgument { case on, off }
enum AllocatorKind: String, ExpressibleByArgument { case recording, plain }

/// `--pointer-bits`, `--tflm-compression`, `--tflm-allocator`: the TFLM build (its persistent
/// structs' sizes).
struct PointerWidthFlag: ParsableArguments {
    @Option(name: .customLong("pointer-bits"), help: "Pointer width of the TFLM build: 32 (Cortex-M, most MCUs; default) or 64 (host builds such as TFLM's Python package).")
    var pointerBits: Int = 32

    @Option(name: .customLong("tflm-compression"), help: "Whether the TFLM build has USE_TFLM_COMPRESSION: on or off (default: on for 64-bit, as TFLM's Python package; off for 32-bit).")
    var compression: OnOff?

    @Option(name: .customLong("tflm-allocator"), help: "The interpreter's allocator: recording (RecordingMicroAllocator, as TFLM's Python package; default for 64-bit) or plain (a firmware's MicroInterpreter; default for 32-bit).")
    var allocator: AllocatorKind?

    var build: TFLMBuild {
        let w = PointerWidth(rawValue: pointerBits) ?? .bits32
        let standard = TFLMBuild.standard(w)
        return TFLMBuild(
            pointerWidth: w,
            compression: compression.map { $0 == .on } ?? standard.compression,
            recordingAllocator: allocator.map { $0 == .recording } ?? standard.recordingAllocator)
    }

    func validate() throws {
        guard PointerWidth(rawValue: pointerBits) != nil else { throw ValidationError("--pointer-bits must be 32 or 64, got \(pointerBits)") }
    }
}

struct MemoryCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "The TFLM tensor arena a model needs: planned head, persistent tail, minimum arena_size, and a per-op timeline.",
        discussion: """
            Replays TFLM's allocations (greedy planner, TFLM's op order) without a device, and \
            searches the other op orders for one that needs less (see Docs/memory.md). \
            Exit codes: 0 ok; 2 bad input or an op whose kernel footprint is not known.
            """)

    @Argument(help: "A .tflite model.")
    var model: String

    @Option(name: .long, help: "Rules whose target to size for (built-in name or .yaml path). Checked for errors; the figures are for the TFLM version tfrewrite models.")
    var rules: [String] = []

    @OptionGroup var pointer: PointerWidthFlag

    @OptionGroup(title: "Resources")
    var memoryFlags: MemoryFlags

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        if !rules.isEmpty { _ = try RuleSet.load(rules) }
        let m = try TFLiteImporter.load(path: model)
        let report = try arenaReport(m, build: pointer.build, model: model)
        let search = try OpOrderSearch.search(m, build: pointer.build, original: report)
        // All of --optimize memory (lossless rewrites, op order, CNN patches, an offline plan),
        // as a conversion with that flag would write it.
        var optimized = m
        var context = PassContext()
        var optimizer = OptimizeMemory(build: pointer.build)
        let whole = (try? optimizer.run(on: &optimized, context: &context)) == true ? try? ArenaReport.analyze(optimized, build: pointer.build) : nil
        let steps = context.notes.map { $0.replacingOccurrences(of: "note: \(OptimizeMemory.name): ", with: "") }
        if json {
            var fields = report.jsonFields
            fields.append(("best_order_min_arena_bytes", .int(Int64(search.minArenaBytes))))
            fields.append(("best_order_total_bytes", .int(Int64(search.totalBytes))))
            fields.append(("best_order_head_bytes", .int(Int64(search.headBytes))))
            fields.append(("best_order", .ints(search.order)))
            let best = whole ?? report
            fields.append(("optimized_min_arena_bytes", .int(Int64(best.minArenaBytes))))
            fields.append(("optimized_total_bytes", .int(Int64(best.totalBytes))))
            fields.append(("optimized_head_bytes", .int(Int64(best.headBytes))))
            fields.append(("optimized_steps", .array(steps.map(JSON.string))))
            writeStdout(JSON.object(fields).rendered() + "\n")
        } else {
            func change(_ name: String, _ before: Int, _ after: Int) -> String {
                "\(name) \(before) → \(after) (\(percent(before - after, of: before)) less)"
            }
            let saving = search.improved
                ? "another op order (tfrewrite --optimize memory) needs: "
                    + [change("minimum arena", search.originalMinArenaBytes, search.minArenaBytes), change("head", search.originalHeadBytes, search.headBytes),
                       change("total", search.originalTotalBytes, search.totalBytes)].joined(separator: ", ")
                    + "\norder: \(search.order.map(String.init).joined(separator: " "))"
                : "no op order found that needs less"
            var all = ""
            if let whole, whole.minArenaBytes < search.minArenaBytes || whole.totalBytes < search.totalBytes {
                all = "\ntfrewrite --optimize memory (\(pointer.pointerBits)-bit) needs: "
                    + [change("minimum arena", report.minArenaBytes, whole.minArenaBytes), change("head", report.headBytes, whole.headBytes),
                       change("total", report.totalBytes, whole.totalBytes)].joined(separator: ", ")
                    + steps.map { "\n  \($0)" }.joined()
            }
            writeStdout(report.text + "\n" + saving + all + "\n")
        }
    }
}

private func percent(_ part: Int, of whole: Int) -> String {
    let tenths = whole > 0 ? (part * 1000 + whole / 2) / whole : 0
    return "\(tenths / 10).\(tenths % 10)%"
}

/// The arena report, or one CLI error naming the model and the op or tensor it cannot size.
func arenaReport(_ m: Model, build: TFLMBuild, model: String) throws -> ArenaReport {
    do {
        return try ArenaReport.analyze(m, build: build)
    } catch let e as FootprintUnknown {
        throw CLIError("\(model): cannot size the TFLM arena: \(e.description)")
    }
}

/// `--arena-limit`: fail when the model's minimum TFLM arena exceeds a budget.
struct ArenaLimitFlag: ParsableArguments {
    @Option(name: .customLong("arena-limit"), help: ArgumentHelp("Fail (exit 2) when the minimum TFLM tensor arena exceeds this many bytes, naming the peak op and its live tensors.", valueName: "BYTES"))
    var arenaLimit: Int?

    @OptionGroup var pointer: PointerWidthFlag

    /// Whether `m` fits the limit (true without one).
    func fits(_ m: Model, model: String) throws -> Bool {
        guard let limit = arenaLimit else { return true }
        return try arenaReport(m, build: pointer.build, model: model).minArenaBytes <= limit
    }

    /// Throws a CLI error when `m` does not fit; `consequence` ends the message. The message
    /// says whether `--optimize memory` (op order, CNN patches) would make it fit.
    func check(_ m: Model, model: String, consequence: String = "") throws {
        guard let limit = arenaLimit else { return }
        let report = try arenaReport(m, build: pointer.build, model: model)
        guard report.minArenaBytes > limit else { return }
        let peak = report.peak.map { "; peak at op #\($0.index) \($0.op) with \($0.liveBytes) bytes live: \($0.liveTensors.map { "'\($0)'" }.joined(separator: ", "))" } ?? ""
        var reordering = ""
        // What --optimize memory would make of it (op order, then CNN patches).
        var optimized = m
        var context = PassContext()
        var optimizer = OptimizeMemory(build: pointer.build)
        if (try? optimizer.run(on: &optimized, context: &context)) == true, let better = try? ArenaReport.analyze(optimized, build: pointer.build),
            better.minArenaBytes < report.minArenaBytes
        {
            reordering = better.minArenaBytes <= limit
                ? "; --optimize memory fits it in \(better.minArenaBytes) bytes"
                : "; --optimize memory does not make it fit (it needs \(better.minArenaBytes) bytes)"
        }
        throw CLIError("\(model): needs a \(report.minArenaBytes)-byte TFLM arena (\(report.pointerWidth.rawValue)-bit), over --arena-limit \(limit)\(peak)\(reordering)\(consequence)")
    }
}
