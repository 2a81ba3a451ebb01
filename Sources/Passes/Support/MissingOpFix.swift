import IR
import Ops
import Rewrite

/// A pass that removes ops a target may lack. `check` asks these passes, for each op the
/// target does not register, whether one of them removes it; the op knowledge stays with the
/// pass that rewrites the op.
package protocol RemovesMissingOps: GraphPass {
    /// The ops the pass may remove.
    static var removableOps: Set<BuiltinOperator> { get }
    /// What `check` reports for op `id`, which `target` does not register; nil when this pass
    /// has nothing to say about it (the check goes on to the shape chains, then "no fix").
    static func missingOpFix(_ r: Rewriter, _ id: OpID, target: TargetProfile) -> MissingOpFix?
}

/// One finding about an op the target lacks.
package struct MissingOpFix: Sendable {
    /// What else the finding says about the op, after "is not in the target …; ".
    package var detail: String
    /// The pass that removes it; nil: no automatic fix.
    package var pass: String?
    package var hint: String

    package init(detail: String, pass: String?, hint: String) {
        self.detail = detail
        self.pass = pass
        self.hint = hint
    }
}

/// The passes `check` asks about ops a target lacks.
package enum MissingOpFixes {
    package static var passes: [any RemovesMissingOps.Type] { [ConvToDepthwise.self, DepthwiseToConv.self, Int8IO.self, DensifySparseConstants.self, ExpandDimsToReshape.self] }

    /// The first fix a pass offers for op `id`.
    package static func fix(_ r: Rewriter, _ id: OpID, target: TargetProfile) -> MissingOpFix? {
        let op = r[id].builtinOperator
        for pass in passes where pass.removableOps.contains(op) {
            if let fix = pass.missingOpFix(r, id, target: target) { return fix }
        }
        return nil
    }
}
