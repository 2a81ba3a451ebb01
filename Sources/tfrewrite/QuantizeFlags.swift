import ArgumentParser
import Foundation
import TFRewrite

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The convert command's int8 quantization flags and the one call they make into the library.
struct QuantizeFlags: ParsableArguments {
    @Option(name: .long, help: "Quantize: 'int8' (full-integer post-training quantization) or 'int16x8' (int16 activations, int8 weights, int64 biases).")
    var quantize: String?

    @Option(name: .customLong("max-error"), help: ArgumentHelp(
        "With --quantize int8: keep the fewest ops in int16x8 so that the output mean abs error against the float model on the calibration samples stays at or below this.",
        valueName: "error"))
    var maxError: Double?

    @Option(name: .long, help: ArgumentHelp(
        "Calibration samples for --quantize: .npy (samples on axis 0), .npz (one array per input), a folder of .npy files, or random:N.",
        valueName: "data"))
    var calibration: String?

    @Option(name: .long, help: "Activation ranges from this percentile instead of min/max (e.g. 99.99); the same as --ranges percentile:P.")
    var percentile: Double?

    @Option(name: .long, help: ArgumentHelp(
        "How activation ranges are chosen from the calibration values: minmax, percentile:P (e.g. percentile:99.99), mse (smallest expected squared int8 error) or search (per tensor, the one of those giving the smallest output error on the calibration samples; slower).",
        valueName: "method"))
    var ranges: String?

    @Flag(name: .customLong("weight-search"), help: "Choose each weight channel's scale for the smallest squared int8 error instead of max|w|/127.")
    var weightSearch = false

    @Flag(name: .long, help: "Cross-layer equalization (Nagel et al. 2019) of CONV/DEPTHWISE/FULLY_CONNECTED chains with ReLU before calibration.")
    var equalize = false

    @Flag(name: .customLong("optimize-rounding"), help: "Round each weight up or down for the smallest layer output error on the calibration data (adaptive rounding; slower).")
    var optimizeRounding = false

    @Option(name: .customLong("rounding-budget"), help: ArgumentHelp("Seconds --optimize-rounding may take (default 60); later layers keep nearest rounding.", valueName: "seconds"))
    var roundingBudget: Double?

    @Flag(name: .customLong("float-io"), help: "Keep float32 model inputs and outputs (QUANTIZE/DEQUANTIZE at the edges).")
    var floatIO = false

    var isRequested: Bool { quantize != nil }

    func validate() throws {
        guard let q = quantize else {
            if calibration != nil { throw ValidationError("--calibration needs --quantize int8") }
            if percentile != nil { throw ValidationError("--percentile needs --quantize int8") }
            if ranges != nil { throw ValidationError("--ranges needs --quantize int8") }
            if weightSearch { throw ValidationError("--weight-search needs --quantize int8") }
            if equalize { throw ValidationError("--equalize needs --quantize int8") }
            if optimizeRounding { throw ValidationError("--optimize-rounding needs --quantize int8") }
            if roundingBudget != nil { throw ValidationError("--rounding-budget needs --quantize int8 --optimize-rounding") }
            if floatIO { throw ValidationError("--float-io needs --quantize int8") }
            if maxError != nil { throw ValidationError("--max-error needs --quantize int8") }
            return
        }
        guard q == "int8" || q == "int16x8" else { throw ValidationError("--quantize: expected 'int8' or 'int16x8', got '\(q)'") }
        if let e = maxError {
            guard q == "int8" else { throw ValidationError("--max-error chooses int16x8 ops within an int8 model: use it with --quantize int8") }
            guard e.isFinite, e >= 0 else { throw ValidationError("--max-error must be a non-negative number, got \(e)") }
        }
        // Adaptive rounding fits int8 layers one by one; it is not measured on int16 activations.
        if optimizeRounding && (q == "int16x8" || maxError != nil) { throw ValidationError("--optimize-rounding works with all-int8 models: drop --max-error / int16x8") }
        guard calibration != nil else {
            throw ValidationError("--quantize int8 needs calibration data: --calibration DATA (.npy/.npz/folder of samples); --calibration random:N quantizes without data, with unknown accuracy")
        }
        if let b = roundingBudget {
            guard optimizeRounding else { throw ValidationError("--rounding-budget needs --optimize-rounding") }
            guard b > 0, b.isFinite else { throw ValidationError("--rounding-budget must be a positive number of seconds, got \(b)") }
        }
        if let p = percentile, !(p > 50 && p <= 100) {
            throw ValidationError("--percentile must be in (50, 100], e.g. 99.99; got \(p)")
        }
        if let r = ranges {
            if percentile != nil { throw ValidationError("--percentile and --ranges both choose the ranges; give one (--ranges percentile:P)") }
            do {
                _ = try RangeMethod(parsing: r)
            } catch {
                throw ValidationError("--ranges: \(error)")
            }
        }
    }

    /// Quantizes `model` (after the rules' passes, so the quantizer sees the final weights and
    /// ops); prints progress and, via the returned closure, the summary once the file exists.
    /// The `quantize-int8` pass these flags ask for (nil without --quantize), with the progress
    /// line and the report printed after the model is written.
    func pass() -> (pass: QuantizeInt8Pass, progress: CalibrationProgress, report: (_ outputBytes: Int?) -> Void)? {
        guard let calibration else { return nil }
        let random = (try? SampleData.randomCount(calibration)) ?? nil != nil
        if random {
            warn("calibrating on random data (\(calibration)): the int8 model's accuracy is unknown; pass real samples with --calibration DATA")
        }
        let progress = CalibrationProgress()
        let box = ResultBox()
        var pass = QuantizeInt8Pass(calibration: calibration, percentile: percentile, floatIO: floatIO)
        if let r = ranges, let method = try? RangeMethod(parsing: r) { pass.ranges = method }
        pass.weightSearch = weightSearch
        pass.equalize = equalize
        if quantize == "int16x8" { pass.activations = .int16x8 }
        pass.maxError = maxError
        pass.optimizeRounding = optimizeRounding
        if let b = roundingBudget { pass.roundingBudget = b }
        if optimizeRounding { pass.roundingProgress = RoundingProgress().report }
        let searchProgress = SearchProgress()
        pass.searchProgress = searchProgress.report
        pass.progress = progress.report
        pass.onResult = { box.set($0) }
        return (pass, progress, { bytes in
            searchProgress.finish()
            guard let result = box.get() else { return }
            // Warnings carry the tool's prefix, as every other warning does (Docs/cli.md).
            let text = result.text(outputBytes: bytes, warnRandom: !random)
                .split(separator: "\n", omittingEmptySubsequences: false)
                .map { $0.hasPrefix("warning: ") ? "tfrewrite: " + $0 : String($0) }
                .joined(separator: "\n")
            writeStderr(text)
        })
    }
}

/// Holds the quantization result the pass hands over while the pipeline runs.
final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var result: PostTrainingQuantization.Result?
    func set(_ r: PostTrainingQuantization.Result) { lock.lock(); result = r; lock.unlock() }
    func get() -> PostTrainingQuantization.Result? { lock.lock(); defer { lock.unlock() }; return result }
}

/// The calibration progress line: on a terminal, once a run has taken 2 s, "calibrating:
/// 120/500 samples, about 9 s left", redrawn in place; then one final line with the time.
final class CalibrationProgress: @unchecked Sendable {
    private let lock = NSLock()
    private let interactive = isatty(2) != 0 && !Diagnostics.quiet
    /// Calibrations shorter than this (from the first sample) show no progress line, only the final one.
    private let quietSeconds = 2.0
    private var firstReport: Double?
    private var last = (done: 0, total: 0, pass: 1)
    private var lastDraw = 0.0
    private let start = Date()
    /// Seconds from the start to the last sample of the last pass.
    private var elapsed: Double?

    var report: Calibrator.Progress {
        { [self] done, total, pass in
            lock.lock()
            defer { lock.unlock() }
            last = (done, total, pass)
            let now = Date().timeIntervalSince(start)
            // The pace is measured from the first sample of each pass (the rules' passes and
            // loading come before calibration starts).
            if pass != passStart.pass || passStart.done < 0 { passStart = (pass, now, done) }
            if done == total { elapsed = now }
            let first = firstReport ?? now
            firstReport = first
            guard interactive, now - first >= quietSeconds else { return }
            if done == total || now - lastDraw > 0.1 {
                lastDraw = now
                writeStderr("\r\(line())\(eta(now: now))\u{1B}[K")
            }
        }
    }

    private func line() -> String {
        let what = last.pass == 2 ? "calibrating (histogram pass)" : "calibrating"
        return "\(what): \(last.done)/\(last.total) samples"
    }

    /// ", about N s left" from the pace so far in this pass (percentile and mse ranges have a second pass).
    private func eta(now: Double) -> String {
        guard last.done > passStart.done, last.done < last.total else { return "" }
        let spent = now - passStart.time
        let left = spent / Double(last.done - passStart.done) * Double(last.total - last.done)
        return left < 60 ? String(format: ", about %.0f s left", left.rounded(.up)) : String(format: ", about %.0f min left", (left / 60).rounded(.up))
    }
    /// The first report of the current calibration pass: when, and how many samples were done.
    private var passStart = (pass: 1, time: 0.0, done: -1)

    func finish() {
        lock.lock()
        defer { lock.unlock() }
        guard last.total > 0, !Diagnostics.quiet else { return }
        let seconds = elapsed ?? Date().timeIntervalSince(start)
        let text = line() + String(format: " (%.2f s)", seconds)
        writeStderr(interactive ? "\r" + text + "\u{1B}[K\n" : text + "\n")
        last.total = 0
    }
}

/// The adaptive rounding progress line: on a terminal, "optimizing rounding: layer 3/9
/// (CONV_2D #2)" redrawn in place, cleared at the end (the summary then has the result); in a
/// log, one line per layer once the run has taken 2 s, so long runs show they are moving.
final class RoundingProgress: @unchecked Sendable {
    private let lock = NSLock()
    private let interactive = isatty(2) != 0 && !Diagnostics.quiet
    private let start = Date()
    private let quietSeconds = 2.0

    var report: @Sendable (Int, Int, String) -> Void {
        { [self] done, total, label in
            lock.lock()
            defer { lock.unlock() }
            guard !Diagnostics.quiet else { return }
            let now = Date().timeIntervalSince(start)
            let line = "optimizing rounding: layer \(done + 1)/\(total) (\(label))"
            if done == total {
                if interactive && now >= quietSeconds { writeStderr("\r\u{1B}[K") }
                return
            }
            guard now >= quietSeconds else { return }
            writeStderr(interactive ? "\r\(line)\u{1B}[K" : line + "\n")
        }
    }
}

/// The progress line of searches that measure many int8 models (`--max-error`, `--ranges
/// search`): once a search has taken 2 s, on a terminal "max-error search: 37 models measured
/// (forward selection, 2 of 11 ops chosen)" redrawn in place and cleared before the summary; in
/// a log, the line every 10 s, so long runs show they are moving.
final class SearchProgress: @unchecked Sendable {
    private let lock = NSLock()
    private let interactive = isatty(2) != 0 && !Diagnostics.quiet
    private let start = Date()
    private let quietSeconds = 2.0
    private var lastDraw = -Double.infinity
    private var drawn = false

    var report: @Sendable (String) -> Void {
        { [self] line in
            lock.lock()
            defer { lock.unlock() }
            guard !Diagnostics.quiet else { return }
            let now = Date().timeIntervalSince(start)
            guard now >= quietSeconds, now - lastDraw >= (interactive ? 0.1 : 10) else { return }
            lastDraw = now
            drawn = true
            writeStderr(interactive ? "\r\(line)\u{1B}[K" : line + "\n")
        }
    }

    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if drawn && interactive { writeStderr("\r\u{1B}[K") }
        drawn = false
    }
}
