import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Whether a runtime can load a model's ops: each op must be registered by the target and, for
/// runtimes that match versions exactly (old TFLM, tflite-micro's micro_op_resolver.cc), be at most the registered
/// version. This is what makes a runtime refuse the model at load time. With `kernels`, also
/// what makes a registered op fail in its kernel's Prepare (`KernelLimits`: tensor types,
/// hybrid, float16, uint8), so that a conversion never reports success on a model that cannot run.
public enum TargetCheck {
    public struct Problem: Hashable, Sendable, CustomStringConvertible {
        public enum Kind: Hashable, Sendable {
            case notRegistered
            /// The op's version, the highest the target accepts, and the lowest the op could have.
            case versionTooHigh(version: Int32, accepted: Int32, minimum: MinimumVersion?)
            /// Registered, but its kernel refuses it; the reason (`KernelLimits`).
            case kernel(String)
        }
        public var subgraph: Int
        public var op: OpID
        public var opName: String
        public var kind: Kind
        public var targetName: String

        public var label: String { (subgraph == 0 ? "" : "subgraph \(subgraph) ") + "\(opName) #\(op.raw)" }

        /// `CONV_2D #1: not registered` — the target is named once, by whoever lists these.
        public var description: String {
            switch kind {
            case .notRegistered:
                return "\(label): not registered"
            case .versionTooHigh(let v, let max, let minimum):
                var s = "\(label): version \(v), accepted up to \(max)"
                if let minimum, minimum.version == v { s += " (v\(v) is the lowest its types allow: \(minimum.reason))" }
                return s
            case .kernel(let reason):
                return "\(label): \(reason)"
            }
        }
    }

    /// Every op the target cannot load (`kernels`: or whose kernel refuses its types), in order.
    public static func problems(_ model: Model, target: TargetProfile, kernels: Bool = false) -> [Problem] {
        var out: [Problem] = []
        for (s, g) in model.subgraphs.enumerated() {
            for (i, op) in g.ops.enumerated() where !op.isErased {
                let id = OpID(i)
                guard target.allows(op) else {
                    out.append(Problem(subgraph: s, op: id, opName: op.name, kind: .notRegistered, targetName: target.displayName))
                    continue
                }
                if target.checksVersions, let max = target.maxVersion(op), op.version > max {
                    let minimum = OpVersions.minimum(op, in: g, model: model)
                    out.append(Problem(subgraph: s, op: id, opName: op.name, kind: .versionTooHigh(version: op.version, accepted: max, minimum: minimum), targetName: target.displayName))
                } else if kernels, let reason = KernelLimits.problem(op, in: g, subgraph: s, model: model, target: target) {
                    out.append(Problem(subgraph: s, op: id, opName: op.name, kind: .kernel(reason), targetName: target.displayName))
                }
            }
        }
        return out
    }

    /// Throws `PassError.unsupportedByTarget` listing every op the target cannot load.
    public static func verify(_ model: Model, target: TargetProfile, kernels: Bool = false) throws {
        let p = problems(model, target: target, kernels: kernels)
        if !p.isEmpty { throw PassError.unsupportedByTarget(p.map(\.description)) }
    }

    /// `verify`, unless the user allowed unsupported output (`--allow-unsupported`): then each
    /// problem becomes a warning in the context's notes and the model is written anyway.
    public static func enforce(_ model: Model, target: TargetProfile, kernels: Bool, context: inout PassContext) throws {
        guard context.allowUnsupported else { return try verify(model, target: target, kernels: kernels) }
        for p in problems(model, target: target, kernels: kernels) where !context.notes.contains(unsupportedNote(p, target)) {
            context.note(unsupportedNote(p, target))
        }
    }

    static func unsupportedNote(_ p: Problem, _ target: TargetProfile) -> String {
        "warning: the target \(target.displayName) cannot run \(p) (written anyway: --allow-unsupported)"
    }
}

/// The target check as a pass, the last step before quantization in every conversion for a
/// target (`PipelineBuilder`): a firmware must be able to load what is written.
///
///     Given:   a target (rules file) that registers RESHAPE, DEPTHWISE_CONV_2D, FULLY_CONNECTED, SOFTMAX
///              #0 CONV_2D v3 (...)
///     Result:  error "CONV_2D #0: not registered"; nothing changes
///
///     Given:   #0 FULLY_CONNECTED (x: f32, w: i8 q(0.02, 0)) -> f32   (registered; hybrid)
///     Result:  error "FULLY_CONNECTED #0: hybrid (float input, int8 weights "w"), which the
///              target's kernels do not run"
///
/// Before `quantize-int8` it checks ops and versions only (`kernels: false`): quantization
/// changes the types, and the check after it looks at the kernels.
public struct CheckTarget: GraphPass {
    public static let name = "check-target"
    public static let summary = "Fail unless the target registers every op at its version (always runs last for a target)"

    /// The target to check against; nil: the pass context's.
    public var target: TargetProfile?
    /// Also check what the kernels refuse (types, hybrid, float16, uint8).
    public var kernels: Bool

    public init(target: TargetProfile? = nil, kernels: Bool = true) {
        self.target = target
        self.kernels = kernels
    }

    public init(options: PassOptions) throws {
        _ = try PassOptionReader(options, pass: Self.name, known: [])
        self.init()
    }

    public mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool {
        if let t = target ?? context.target { try TargetCheck.enforce(model, target: t, kernels: kernels, context: &context) }
        return false
    }
}
