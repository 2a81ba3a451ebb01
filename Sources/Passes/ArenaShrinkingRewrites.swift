import IR
import Memory
import Ops
import Rewrite

/// The lossless rewrites `--optimize memory` tries before it searches op orders. On small
/// recurrent and streaming models TFLM's minimum `arena_size` is set by what
/// `FinishModelAllocation` holds while it plans (an `AllocationInfo` per tensor, constants
/// included, and the planner's record per planned buffer) on top of the persistent tail (a
/// node per op, a `TfLiteEvalTensor` per tensor, op data), not by the plan itself, so op order
/// cannot move it: fewer tensors and ops can (Docs/memory.md). Each rewrite keeps every output
/// bit-identical; it is kept only when the replay of TFLM's allocations says the model then
/// needs strictly less (a smaller minimum `arena_size`, or the same and a smaller total).
enum ArenaShrinkingRewrites {
    struct Outcome {
        var model: Model
        /// The rewrites kept, in the order they ran.
        var kept: [String]
        var before: ArenaReport
        var after: ArenaReport
    }

    /// The candidates, each a pass of its own file, tried in this order; passes grouped together
    /// are judged together (a CONV_2D as a FULLY_CONNECTED needs a little more op data than
    /// the convolution until the RESHAPE in front of it goes).
    static func candidates() -> [[any GraphPass]] {
        [[MergeIdenticalConstants()], [ReshapeIntoBroadcast()], [UnpackGathers()], [ReshapeIntoFullyConnected()],
         [ConvAsFullyConnected(), ReshapeIntoFullyConnected()], [StridedSliceAsSlice()], [SlicesAsSplit()],
         [ConcatenateBeforeQuantize()]]
    }

    /// Nil when the model cannot be sized (the op-order search says why) or names its tensors
    /// by index (an `OfflineMemoryAllocation` plan would then point at other tensors).
    static func apply(to model: Model, build: TFLMBuild, context: inout PassContext) -> Outcome? {
        guard !model.pinsTensorIndices, let original = try? ArenaReport.analyze(model, build: build) else { return nil }
        var outcome = Outcome(model: model, kept: [], before: original, after: original)
        for group in candidates() {
            var trial = outcome.model
            var scratch = PassContext(target: context.target, batch: context.batch)
            var ran: [String] = []
            for var pass in group where (try? pass.run(on: &trial, context: &scratch)) == true { ran.append(pass.name) }
            guard !ran.isEmpty else { continue }
            // Ops the rewrite bypassed, and tensors nothing reads any more, go.
            trial.removeDeadCode()
            guard let report = try? ArenaReport.analyze(trial, build: build),
                (report.minArenaBytes, report.totalBytes) < (outcome.after.minArenaBytes, outcome.after.totalBytes)
            else { continue }
            outcome.model = trial
            outcome.after = report
            outcome.kept.append(ran.joined(separator: " + "))
            for (key, n) in scratch.statistics { context.count(key, n) }
        }
        return outcome.kept.isEmpty ? nil : outcome
    }
}
