import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Sets every op's OperatorCode.version to the lowest its tensor types and options need
/// (`OpVersions`, the rules of TFLite's op_version.cc), updates the `min_runtime_version`
/// metadata to match, then checks the target: an op the target does not register, or one above
/// the version a version-matching runtime accepts, fails the pass with every such op listed.
///
///     Given:   CONV_2D v5 (int8 input, filter, output)   FULLY_CONNECTED v4   CUSTOM "Foo"
///              target: { CONV_2D: 3, FULLY_CONNECTED: 4 }, check_versions: true
///     Result:  CONV_2D v3, FULLY_CONNECTED v4; then an error: Foo #2 is not registered
///
/// Ops without a rule (custom ops, builtins tfrewrite does not know) keep their version.
/// Old TFLM matched versions exactly, so a version is never raised above what the file had
/// unless the types demand it, and never inflated (tflite-micro's micro_op_resolver.cc).
public struct LegalizeOpVersions: GraphPass {
    public static let name = "legalize-op-versions"
    public static let summary = "Set each op's version to the minimum its types need, update min_runtime_version, and check the target's ops and versions"

    /// Whether to fail on ops the target cannot load (default true; false only recomputes).
    public var checkTarget: Bool

    public init(checkTarget: Bool = true) {
        self.checkTarget = checkTarget
    }

    /// Reads `check_target: false`; any other option is an error.
    public init(options: PassOptions) throws {
        for key in options.values.keys.sorted() where key != "check_target" {
            throw PassError.badOption(pass: Self.name, option: key, message: "unknown option (known options: check_target)", location: options.location)
        }
        do {
            self.init(checkTarget: try options.bool("check_target", default: true))
        } catch PassError.badOption(_, let o, let m, let l) {
            throw PassError.badOption(pass: Self.name, option: o, message: m, location: l)
        }
    }

    public mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool {
        var changed = 0
        for s in model.subgraphs.indices {
            let g = model.subgraphs[s]
            for i in g.ops.indices where !g.ops[i].isErased {
                guard let minimum = OpVersions.minimum(g.ops[i], in: g, model: model) else { continue }
                if model.subgraphs[s].ops[i].version != minimum.version {
                    let before = model.subgraphs[s].ops[i].version
                    model.subgraphs[s].ops[i].version = minimum.version
                    context.note("\(g.ops[i].label(OpID(i))): version \(before) -> \(minimum.version) (\(minimum.reason))")
                    changed += 1
                }
            }
        }
        context.count(Self.name, changed)
        let before = model.metadata(named: RuntimeVersions.metadataName).map { Array($0.array) }
        if let version = RuntimeVersions.minimumRuntime(of: model) {
            var padded = Array(version.utf8)
            padded += [UInt8](repeating: 0, count: max(0, RuntimeVersions.metadataSize - padded.count))
            if let before, before != padded {
                RuntimeVersions.updateMetadata(of: &model)
                context.note("min_runtime_version: \(version)")
                changed += 1
            }
        }
        if checkTarget, let target = context.target {
            try TargetCheck.enforce(model, target: target, kernels: false, context: &context)
        }
        return changed > 0
    }
}
