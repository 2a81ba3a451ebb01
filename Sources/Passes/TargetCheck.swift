import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Whether a runtime can load a model's ops: each op must be registered by the target and, for
/// runtimes that match versions exactly (old TFLM, tflite-micro's micro_op_resolver.cc), be at most the registered
/// version. This is what makes a runtime refuse the model at load time; kernel-level limits
/// (tensor types, quantization modes) are the `check` lint's business.
public enum TargetCheck {
    public struct Problem: Hashable, Sendable, CustomStringConvertible {
        public enum Kind: Hashable, Sendable {
            case notRegistered
            /// The op's version, the highest the target accepts, and the lowest the op could have.
            case versionTooHigh(version: Int32, accepted: Int32, minimum: MinimumVersion?)
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
            }
        }
    }

    public static func problems(_ model: Model, target: TargetProfile) -> [Problem] {
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
                }
            }
        }
        return out
    }

    /// Throws `PassError.unsupportedByTarget` listing every op the target cannot load.
    public static func verify(_ model: Model, target: TargetProfile) throws {
        let p = problems(model, target: target)
        if !p.isEmpty { throw PassError.unsupportedByTarget(p.map(\.description)) }
    }
}

/// The target check as a pass, the last step before quantization in every conversion for a
/// target (`PipelineBuilder`): a firmware must be able to load what is written.
///
///     Given:   a target (rules file) that registers RESHAPE, DEPTHWISE_CONV_2D, FULLY_CONNECTED, SOFTMAX
///              #0 CONV_2D v3 (...)
///     Result:  error "CONV_2D #0: not registered"; nothing changes
public struct CheckTarget: GraphPass {
    public static let name = "check-target"
    public static let summary = "Fail unless the target registers every op at its version (always runs last for a target)"

    /// The target to check against; nil: the pass context's.
    public var target: TargetProfile?

    public init(target: TargetProfile? = nil) { self.target = target }

    public init(options: PassOptions) throws {
        _ = try PassOptionReader(options, pass: Self.name, known: [])
    }

    public mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool {
        if let t = target ?? context.target { try TargetCheck.verify(model, target: t) }
        return false
    }
}
