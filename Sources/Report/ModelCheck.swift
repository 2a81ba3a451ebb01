import Driver
import Export
import FlatBuffers
import IR
import Import
import Interpret
import Kernels
import Ops
import PassCatalog
import Passes
import Quantize
import Rewrite
import Rules
import Support

/// `tfrewrite check`: what stops a model from running on a target, op by op, and the fix
/// tfrewrite offers for each.
///
///     CONV_2D #1 is not in the target micro_speech (tflm); its input has 1 channel:
///         conv-to-depthwise rewrites it as DEPTHWISE_CONV_2D
///
/// Errors are what the runtime refuses (an op it does not register, a version above what a
/// version-matching runtime accepts, a tensor type or quantization mode its kernels lack);
/// warnings are what runs but costs memory or time on a microcontroller (shape arithmetic
/// left in the graph, float I/O around an int8 body). Every finding counts: `check` exits 1
/// while any remain.
public struct CheckFinding: Hashable, Sendable, CustomStringConvertible {
    public enum Severity: String, Hashable, Sendable {
        case error, warning
    }
    /// What kind of problem, stable for scripts: op-not-in-target, version-above-target,
    /// hybrid-quantization, float16, uint8-quantization, per-channel-fully-connected, sparse,
    /// grouped-conv, op-type, tensor-type, runtime-size, shape-chain, float-io.
    public var code: String
    public var severity: Severity
    public var subgraph: Int
    public var opIndex: Int?
    public var op: String?
    public var problem: String
    /// The pass that fixes it, when one does.
    public var fixPass: String?
    /// What to do: how the pass fixes it, or advice when nothing automatic does.
    public var fix: String

    /// `CONV_2D #1` (with the subgraph when not the main one).
    public var label: String {
        let prefix = subgraph == 0 ? "" : "subgraph \(subgraph) "
        guard let op, let opIndex else { return prefix.isEmpty ? "model" : String(prefix.dropLast()) }
        return prefix + "\(op) #\(opIndex)"
    }

    public var description: String { "\(label) \(problem): \(fix)" }

    public var json: JSON {
        .object([
            ("severity", .string(severity.rawValue)),
            ("code", .string(code)),
            ("subgraph", .int(Int64(subgraph))),
            ("op_index", opIndex.map { .int(Int64($0)) } ?? .null),
            ("op", .optional(op)),
            ("problem", .string(problem)),
            ("fix_pass", .optional(fixPass)),
            ("fix", .string(fix)),
        ])
    }
}

public struct ModelCheck: Sendable {
    public var findings: [CheckFinding]
    public var target: TargetProfile

    public var errors: [CheckFinding] { findings.filter { $0.severity == .error } }
    public var warnings: [CheckFinding] { findings.filter { $0.severity == .warning } }
    public var isClean: Bool { findings.isEmpty }

    package static let requantize = "no automatic fix; re-quantize the float model with --quantize int8 (full-integer int8)"

    public static func run(_ model: Model, target: TargetProfile) -> ModelCheck {
        var c = Checker(model: model, target: target)
        for s in model.subgraphs.indices { c.check(subgraph: s) }
        return ModelCheck(findings: c.findings, target: target)
    }

    /// One line per finding, then a summary line.
    public func text(model path: String) -> String {
        var out = ""
        for f in findings { out += "\(path): \(f.severity.rawValue): \(f)\n" }
        if findings.isEmpty {
            out += "\(path): no problems for the target \(target.displayName)\n"
        } else {
            let fixable = findings.filter { $0.fixPass != nil }.count
            out += "\(path): \(errors.count) error(s), \(warnings.count) warning(s) for the target \(target.displayName); \(fixable) fixable by tfrewrite passes\n"
        }
        return out
    }

    public func json(model path: String, rules: [String]) -> JSON {
        .object([
            ("model", .string(path)),
            ("rules", .array(rules.map(JSON.string))),
            ("target", .string(target.displayName)),
            ("clean", .bool(isClean)),
            ("errors", .int(Int64(errors.count))),
            ("warnings", .int(Int64(warnings.count))),
            ("findings", .array(findings.map(\.json))),
        ])
    }

    /// Walks one subgraph; findings come in op order, then model-wide ones.
    package struct Checker {
        package let model: Model
        package let target: TargetProfile
        package var findings: [CheckFinding] = []

        package func has(_ pass: String) -> Bool { PassRegistry.entry(pass) != nil }

        package mutating func add(_ code: String, _ severity: CheckFinding.Severity, _ s: Int, _ i: Int?, _ op: Op?, _ problem: String, pass: String?, _ fix: String) {
            let usable = pass.flatMap { has($0) ? $0 : nil }
            findings.append(CheckFinding(code: code, severity: severity, subgraph: s, opIndex: i, op: op?.name, problem: problem,
                                         fixPass: usable, fix: usable == nil && pass != nil ? "no automatic fix in this build" : fix))
        }

        package mutating func check(subgraph s: Int) {
            let g = model.subgraphs[s]
            let chains = ShapeChains(graph: g, model: model)
            let rewriter = Rewriter(model: model, subgraph: s, context: PassContext(target: target))
            for (i, op) in g.ops.enumerated() where !op.isErased {
                if !target.allows(op) {
                    notInTarget(s, i, op, chains, rewriter)
                } else if target.checksVersions, let max = target.maxVersion(op), op.version > max {
                    let minimum = OpVersions.minimum(op, in: g, model: model)
                    if op.builtinOperator == .conv2D, UngroupConv.grouped(rewriter, OpID(i)) != nil {
                        add("version-above-target", .error, s, i, op, "is version \(op.version) (a grouped convolution), the target accepts up to \(max)", pass: UngroupConv.name,
                            "ungroup-conv rewrites it as DEPTHWISE_CONV_2D or SPLIT + CONV_2D + CONCATENATION (exact)")
                    } else if let m = minimum, m.version <= max {
                        add("version-above-target", .error, s, i, op, "is version \(op.version), the target accepts up to \(max)", pass: LegalizeOpVersions.name,
                            "legalize-op-versions sets v\(m.version), the lowest its types need (\(m.reason))")
                    } else {
                        let why = minimum.map { "; it needs at least v\($0.version) (\($0.reason))" } ?? ""
                        add("version-above-target", .error, s, i, op, "is version \(op.version), the target accepts up to \(max)\(why)", pass: nil,
                            "no automatic fix; the target's kernel is too old for this op's types")
                    }
                }
                quantization(s, i, op, g)
                runtimeSized(s, i, op, g)
            }
            // Shape arithmetic the target runs but that costs time and RAM on every inference.
            for chain in chains.chains where chain.ops.allSatisfy({ target.allows(g.ops[$0]) }) {
                let names = chain.ops.map { "\(g.ops[$0].name) #\($0)" }.joined(separator: ", ")
                add("shape-chain", .warning, s, chain.reshape, g.ops[chain.reshape], "takes its shape from \(names) at run time", pass: FoldShapes.name,
                    "fold-shapes makes the shape a constant and removes them" + (chain.dynamic ? " (give --batch N: the batch is dynamic)" : ""))
            }
            floatIO(s, g)
            tensorTypes(s, g)
        }

        package mutating func notInTarget(_ s: Int, _ i: Int, _ op: Op, _ chains: ShapeChains, _ r: Rewriter) {
            let problem = "is not in the target \(target.displayName)"
            let id = OpID(i)
            if let fix = MissingOpFixes.fix(r, id, target: target) {
                add("op-not-in-target", .error, s, i, op, "\(problem); \(fix.detail)", pass: fix.pass, fix.hint)
                return
            }
            if let chain = chains.chain(containing: i) {
                add("op-not-in-target", .error, s, i, op, "\(problem); it computes the shape of RESHAPE #\(chain.reshape)", pass: FoldShapes.name,
                    "fold-shapes folds it into a constant shape" + (chain.dynamic ? " (give --batch N: the batch is dynamic)" : ""))
                return
            }
            add("op-not-in-target", .error, s, i, op, problem, pass: nil, "no automatic fix; the target must register it (or the model avoid it)")
        }

        package mutating func quantization(_ s: Int, _ i: Int, _ op: Op, _ g: Graph) {
            // The same predicates as check-target (KernelLimits), so check and a conversion agree.
            if op.builtinOperator != .densify, op.kind.customCode == nil, let v = inputsOf(op, g).first(where: { $0.sparsity != nil }) {
                add("sparse", .error, s, i, op, "reads the sparse constant \"\(v.name)\"; the target's kernels take dense tensors only", pass: DensifySparseConstants.name,
                    "densify-sparse-constants stores it densely (lossless)")
            }
            if !target.quantization.hybrid, op.kind.customCode == nil, let w = KernelLimits.hybridWeights(op, in: g, model: model) {
                add("hybrid-quantization", .error, s, i, op, "is hybrid (float input, \(w.dtype.name.lowercased()) weights \"\(w.name)\"), which the target's kernels do not run", pass: nil, ModelCheck.requantize)
            }
            if !target.quantization.float16, let h = KernelLimits.float16Tensor(op, in: g) {
                add("float16", .error, s, i, op, "reads or writes float16 \"\(h.name)\"; the target has no float16 kernels", pass: nil, ModelCheck.requantize)
            }
            if !target.quantization.uint8, let u = KernelLimits.uint8Tensor(op, in: g) {
                add("uint8-quantization", .error, s, i, op, "uses uint8 quantization (\"\(u.name)\"); the target's kernels take int8 only", pass: nil, ModelCheck.requantize)
            }
            if !target.quantization.perChannelFullyConnected, op.builtinOperator == .fullyConnected,
                let w = op.input(1).map({ g[$0] }), let q = w.quantization, q.scales.count > 1
            {
                add("per-channel-fully-connected", .error, s, i, op, "has per-channel weights \"\(w.name)\" (\(q.scales.count) scales); the target computes FULLY_CONNECTED per-tensor only", pass: PerTensorFullyConnected.name,
                    "per-tensor-fully-connected gives the weights one scale (lossless when the channels' scales agree, else the largest change is printed)")
            }
            if !target.quantization.groupedConv, KernelLimits.isGroupedConv(op, in: g), !(target.checksVersions && target.maxVersion(op).map { op.version > $0 } ?? false) {
                add("grouped-conv", .error, s, i, op, "is a grouped convolution, which the target's CONV_2D kernel refuses", pass: UngroupConv.name,
                    "ungroup-conv rewrites it as DEPTHWISE_CONV_2D or SPLIT + CONV_2D + CONCATENATION (exact)")
            }
            // A type the measured profile's kernel did not run, unless a finding above already
            // names this op (float16, uint8, hybrid: the same failure).
            if !findings.contains(where: { $0.subgraph == s && $0.opIndex == i }), let (t, measured) = KernelLimits.unmeasuredType(op, in: g, model: model, target: target) {
                add("op-type", .error, s, i, op, KernelLimits.typeReason(op, t, measured), pass: nil,
                    t == .float32 ? ModelCheck.requantize : "no automatic fix; the target's kernel lacks this type")
            }
        }

        /// An output TFLM would size wrongly (`KernelLimits.runtimeSizedOutput`). Inside a loop
        /// body with a constant trip count, unrolling makes every shape static.
        package mutating func runtimeSized(_ s: Int, _ i: Int, _ op: Op, _ g: Graph) {
            guard let v = KernelLimits.runtimeSizedOutput(op, in: g, subgraph: s, target: target) else { return }
            // WhileOptions (schema.fbs): field 1 body_subgraph_index.
            let inLoop = model.subgraphs.contains { graph in
                graph.ops.contains { loop in
                    guard !loop.isErased, loop.builtinOperator == .whileLoop, case .builtin(_, let options?) = loop.kind else { return false }
                    return Int(options.int32(1, default: -1)) == s
                }
            }
            add("runtime-size", .error, s, i, op, KernelLimits.runtimeSizeReason(v) + " (wrong outputs or a crash)", pass: inLoop ? UnrollWhile.name : nil,
                inLoop ? "unroll-while repeats the loop body with static shapes when the trip count is constant" : "no automatic fix; export the model with static shapes")
        }

        package func inputsOf(_ op: Op, _ g: Graph) -> [Value] {
            op.inputs.compactMap { $0.isAbsent || $0.index >= g.values.count ? nil : g[$0] }
        }

        package mutating func floatIO(_ s: Int, _ g: Graph) {
            for (i, op) in g.ops.enumerated() where !op.isErased && target.allows(op) {
                if op.builtinOperator == .quantize, let x = op.input(0), g.isGraphInput(x), g[x].dtype == .float32,
                    let y = op.outputs.first, g[y].dtype == .int8
                {
                    add("float-io", .warning, s, i, op, "converts the float input \"\(g[x].name)\" to int8 on the device", pass: Int8IO.name,
                        "int8-io makes the model take int8 input directly (quantize on the host)")
                }
                if op.builtinOperator == .dequantize, let y = op.outputs.first, g.isGraphOutput(y), g[y].dtype == .float32,
                    let x = op.input(0), g[x].dtype == .int8
                {
                    add("float-io", .warning, s, i, op, "converts the int8 result to the float output \"\(g[y].name)\" on the device", pass: Int8IO.name,
                        "int8-io makes the model return int8 directly")
                }
            }
        }

        package mutating func tensorTypes(_ s: Int, _ g: Graph) {
            guard let allowed = target.tensorTypes else { return }
            var used: [DType: [String]] = [:]
            var order: [DType] = []
            var reads = Set<Int>()
            // The tensors of the ops whose kernels the target's tensor_types describe (KernelLimits).
            for op in g.ops where !op.isErased && KernelLimits.checksTensorTypes(op) {
                for v in op.inputs + op.outputs where !v.isAbsent && v.index < g.values.count { reads.insert(v.index) }
            }
            for i in reads.sorted() where !allowed.contains(g.values[i].dtype) && !KernelLimits.isHandle(g.values[i].dtype) {
                let t = g.values[i].dtype
                if used[t] == nil { order.append(t) }
                used[t, default: []].append(g.values[i].name)
            }
            for t in order {
                let names = used[t]!
                let example = names.prefix(2).map { "\"\($0)\"" }.joined(separator: ", ")
                add("tensor-type", .error, s, nil, nil, "has \(names.count) \(t.name) tensor(s) (\(example)), a type the target's tensor_types lack", pass: nil,
                    t == .float16 || t == .uint8 || t == .float32 ? ModelCheck.requantize : "no automatic fix")
            }
        }
    }
}

/// Shape arithmetic feeding a RESHAPE's shape input: the ops (SHAPE, STRIDED_SLICE, PACK, …)
/// whose int32/int64 results reach it, when at least one of them reads a tensor's shape.
package struct ShapeChains {
    package struct Chain {
        package var reshape: Int
        package var ops: [Int]
        /// A SHAPE in the chain reads a tensor with a dynamic dimension.
        package var dynamic: Bool
    }
    package var chains: [Chain] = []

    package static let arithmetic: Set<String> = ["SHAPE", "STRIDED_SLICE", "PACK", "CONCATENATION", "GATHER", "SLICE", "SQUEEZE", "EXPAND_DIMS", "ADD", "SUB", "MUL", "DIV", "FLOOR_DIV", "RESHAPE", "CAST"]

    package init(graph g: Graph, model: Model) {
        let producers = g.producers()
        for (i, op) in g.ops.enumerated() where !op.isErased && op.builtinOperator == .reshape {
            guard let shapeInput = op.input(1), !model.isConstant(g[shapeInput]) else { continue }
            var members: [Int] = []
            var dynamic = false
            var stack = [shapeInput]
            var seen = Set<Int32>()
            while let v = stack.popLast() {
                guard seen.insert(v.raw).inserted, let p = producers[v.raw] else { continue }
                let pop = g.ops[p.index]
                let value = g[v]
                guard Self.arithmetic.contains(pop.builtinOperator.name), value.dtype == .int32 || value.dtype == .int64, !value.type.isQuantized else { continue }
                members.append(p.index)
                if pop.builtinOperator == .shape {
                    if let x = pop.input(0), g[x].isDynamic || g[x].shape.contains(where: { $0 < 0 }) { dynamic = true }
                    continue
                }
                for x in pop.inputs where !x.isAbsent && x.index < g.values.count { stack.append(x) }
            }
            if members.contains(where: { g.ops[$0].builtinOperator == .shape }) {
                chains.append(Chain(reshape: i, ops: members.sorted(), dynamic: dynamic))
            }
        }
    }

    package func chain(containing op: Int) -> Chain? { chains.first { $0.ops.contains(op) } }
}
