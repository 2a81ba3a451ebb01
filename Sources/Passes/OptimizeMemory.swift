import IR
import Memory
import Ops
import Rewrite

/// Runs the ops of the main subgraph in the order that needs the smallest TFLM tensor arena
/// (`--optimize memory`, issue 14). TFLM runs ops in the order the file lists them and its
/// planner can share memory only between tensors not alive at the same time, so running a
/// branch or a recurrent step to its end before starting the next lowers the peak. Only
/// topological orders are tried: every op reads the same values as before, so the outputs are
/// bit-identical.
///
/// Given (two branches that each widen and narrow again, written side by side):
///
///     #0 FULLY_CONNECTED (%x, …) -> %a1: f32[1,1024]
///     #1 FULLY_CONNECTED (%x, …) -> %b1: f32[1,1024]
///     #2 FULLY_CONNECTED (%a1, …) -> %a2: f32[1,16]
///     #3 FULLY_CONNECTED (%b1, …) -> %b2: f32[1,16]
///     #4 ADD (%a2, %b2) -> %y
///
/// Result (each branch narrowed before the next widens):
///
///     #0 FULLY_CONNECTED (%x, …) -> %a1    #1 FULLY_CONNECTED (%a1, …) -> %a2
///     #2 FULLY_CONNECTED (%x, …) -> %b1    #3 FULLY_CONNECTED (%b1, …) -> %b2
///     #4 ADD (%a2, %b2) -> %y
///
/// `OpOrderSearch` proposes the orders and replays each in full (planner, persistent tail,
/// minimum arena_size); the model changes only when one needs strictly less than the written
/// order (a smaller minimum arena_size, or the same and a smaller total), so neither grows.
/// Before the order, the lossless rewrites of `ArenaShrinkingRewrites` (fewer tensors and ops,
/// what sets the minimum of small recurrent models) are tried under the same rule. After it,
/// on a CNN whose first layers set the arena, `PatchEarlyStage` runs those layers in
/// overlapping spatial patches when that needs less (and the order search runs once more on
/// the result); outputs stay bit-identical there too. Last, an `OfflineMemoryAllocation` plan
/// is written when `OfflinePlanSearch` finds a packing that beats TFLM's own plan with the
/// kernels' scratch buffers placed by TFLM.
/// Models with several subgraphs keep their order (the search plans the main subgraph alone);
/// models the replay cannot size (ops without a declared footprint, an OfflineMemoryAllocation
/// plan) are left alone with a note. Option `pointer_bits` (32, default, or 64) picks the TFLM
/// build that is sized.
public struct OptimizeMemory: GraphPass {
    public static let name = "optimize-memory"
    public static let summary = "reorder ops (topological orders only) and run a CNN's first layers in patches so TFLM's tensor arena is smaller; outputs unchanged"

    public var build: TFLMBuild

    public init(build: TFLMBuild = .standard(.bits32)) {
        self.build = build
    }

    public init(options: PassOptions) throws {
        self.init(build: try options.tflmBuild(pass: Self.name))
    }

    public mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool {
        guard !model.subgraphs.isEmpty else { return false }
        // The search plans live ops only; erased ones (left by earlier passes) go first.
        var compacted = model
        if compacted.subgraphs[0].ops.contains(where: \.isErased) {
            guard compacted.subgraphs[0].compact() else { return false }
        }
        // Fewer tensors and ops first (ArenaShrinkingRewrites), then the op order.
        let rewrites = ArenaShrinkingRewrites.apply(to: compacted, build: build, context: &context)
        if let rewrites {
            compacted = rewrites.model
            context.notes.append(
                "note: \(Self.name): \(rewrites.kept.joined(separator: ", ")): TFLM arena (\(build.pointerWidth.rawValue)-bit): "
                    + "total \(rewrites.before.totalBytes) → \(rewrites.after.totalBytes), minimum arena_size \(rewrites.before.minArenaBytes) → \(rewrites.after.minArenaBytes) bytes")
        }
        var changed = rewrites != nil
        do {
            let search = try OpOrderSearch.search(compacted, build: build, original: rewrites?.after)
            if search.improved {
                compacted = OpOrderSearch.reordered(compacted, search.order)
                changed = true
                context.notes.append(
                    "note: \(Self.name): TFLM arena (\(build.pointerWidth.rawValue)-bit): head \(search.originalHeadBytes) → \(search.headBytes), "
                        + "total \(search.originalTotalBytes) → \(search.totalBytes), minimum arena_size \(search.originalMinArenaBytes) → \(search.minArenaBytes) bytes")
            }
        } catch {
            context.notes.append("note: \(Self.name): left the op order as it is: \(error)")
        }
        // Then the CNN early-stage patches (PatchEarlyStage.swift), kept only when they need less.
        if let baseline = try? ArenaReport.analyze(compacted, build: build), let patched = PatchEarlyStage.best(compacted, build: build, baseline: baseline) {
            compacted = patched.model
            changed = true
            context.notes.append(patched.note(Self.name, baseline: baseline))
            // The patches' ops in another order may need less again.
            if let again = try? OpOrderSearch.search(compacted, build: build, original: patched.report), again.improved {
                compacted = OpOrderSearch.reordered(compacted, again.order)
                context.notes.append(
                    "note: \(Self.name): then reordered: head \(again.originalHeadBytes) → \(again.headBytes), total \(again.originalTotalBytes) → \(again.totalBytes), "
                        + "minimum arena_size \(again.originalMinArenaBytes) → \(again.minArenaBytes) bytes")
            }
        }
        // Last, an offline plan, when one beats TFLM's own (it pins the tensors' order).
        if let offline = try? OfflinePlanSearch.search(compacted, build: build) {
            compacted = offline.model
            changed = true
            context.notes.append(
                "note: \(Self.name): wrote an \(OfflineMemoryPlan.metadataName) plan: head \(offline.original.headBytes) → \(offline.report.headBytes), "
                    + "minimum arena_size \(offline.original.minArenaBytes) → \(offline.report.minArenaBytes) bytes (scratch buffers still planned by TFLM)")
        }
        if changed { model = compacted }
        return changed
    }
}
