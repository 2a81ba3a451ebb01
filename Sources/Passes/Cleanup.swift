import Export
import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Removes what other passes (and converters) leave behind, and renumbers what remains.
///
/// Given:
///
///     input %0 "x": i8[1,4] q(0.5, 0)
///     const %1: i32[2] = [1, 4]
///     const %5: i32[3] = [7, 7, 7]                      (nothing reads it)
///     #0 RESHAPE v1 (%0, %1) -> %2: i8[1,4] q(0.5, 0)    (same shape and type in and out)
///     #1 QUANTIZE v1 (%2) -> %3: i8[1,4] q(0.5, 0)       (int8 → int8, same parameters)
///     #2 RELU v2 (%3) -> %6: i8[1,4] q(0.5, 0)           (nothing reads it)
///     #3 SOFTMAX v2 {beta=1.0} (%3) -> %4: i8[1,4] q(0.00390625, -128)
///     output %4
///
/// Result:
///
///     input %0 "x": i8[1,4] q(0.5, 0)
///     #0 SOFTMAX v2 {beta=1.0} (%0) -> %1: i8[1,4] q(0.00390625, -128)
///     output %1
///
/// In order: identity RESHAPEs (static shape and type equal in and out) and no-op QUANTIZEs
/// (int8/uint8/int16 in and out with identical parameters) are bypassed, unless their output
/// is a graph output (so I/O tensors keep their names and indices); dead ops go (no output read
/// by an op or the graph; only known pure builtins: custom ops, control flow, variable and
/// random ops stay); then values nothing refers to are dropped and the rest renumbered
/// (signature_defs follow), runtime tensors move to the shared empty buffer 0, identical
/// constants share one buffer, and unreferenced buffers are dropped (buffer 0 stays empty,
/// metadata buffers stay). A model with OfflineMemoryAllocation metadata (TFLM's offline
/// planner names tensors by index) keeps its tensor numbering.
///
/// Options (all default true): `identity_reshapes`, `noop_quantizes`, `dead_ops`,
/// `compact` (drop unused tensors and buffers), `share_buffers` (dedupe identical constants).
public struct Cleanup: GraphPass {
    public static let name = "cleanup"
    public static let summary = "Remove identity RESHAPEs, no-op QUANTIZEs, dead ops, unused tensors and buffers; share identical constants"

    public var identityReshapes = true
    public var noopQuantizes = true
    public var deadOps = true
    public var compact = true
    public var shareBuffers = true

    public init(options: PassOptions = PassOptions()) throws {
        let reader = try PassOptionReader(options, pass: Self.name, known: ["identity_reshapes", "noop_quantizes", "dead_ops", "compact", "share_buffers"])
        identityReshapes = try reader.bool("identity_reshapes", default: true)
        noopQuantizes = try reader.bool("noop_quantizes", default: true)
        deadOps = try reader.bool("dead_ops", default: true)
        compact = try reader.bool("compact", default: true)
        shareBuffers = try reader.bool("share_buffers", default: true)
    }

    public var patterns: [Pattern] {
        (identityReshapes ? [Self.identityReshapePattern] : []) + (noopQuantizes ? [Self.noopQuantizePattern] : [])
    }

    public mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool {
        var changed = false
        if !patterns.isEmpty, try GreedyRewriteDriver(patterns: patterns, passName: Self.name).run(on: &model, context: &context) {
            changed = true
        }
        if deadOps {
            for s in model.subgraphs.indices {
                let n = Self.removeDeadOps(&model, subgraph: s)
                if n > 0 { context.count("\(Self.name).dead-ops", n); changed = true }
            }
        }
        if compact {
            if model.pinsTensorIndices {
                context.noteOnce("\(Self.name): the model has OfflineMemoryAllocation metadata, which names tensors by index; unused tensors are kept")
            } else {
                for s in model.subgraphs.indices {
                    let before = model.subgraphs[s].values.count
                    model.compactValues(inSubgraph: s)
                    let removed = before - model.subgraphs[s].values.count
                    if removed > 0 { context.count("\(Self.name).tensors-removed", removed); changed = true }
                }
            }
            let moved = model.shareEmptyBuffers()
            if moved > 0 { context.count("\(Self.name).empty-buffers-shared", moved); changed = true }
        }
        if shareBuffers {
            let shared = model.shareIdenticalBuffers()
            if shared > 0 { context.count("\(Self.name).buffers-shared", shared); changed = true }
        }
        if compact || shareBuffers {
            let dropped = model.removeUnusedBuffers()
            if dropped > 0 { context.count("\(Self.name).buffers-removed", dropped); changed = true }
        }
        return changed
    }

    // MARK: Patterns

    /// A RESHAPE whose static input and output shapes and element types are equal, and whose
    /// output is not a graph output.
    public static func isIdentityReshape(_ r: Rewriter, _ id: OpID) -> Bool {
        guard case .reshape = r[id].kind else { return false }
        return isPassThrough(r, id)
    }

    /// A QUANTIZE from int8/uint8/int16 to the same type with identical per-tensor parameters:
    /// a requantize with multiplier 1, which returns its input.
    public static func isNoOpQuantize(_ r: Rewriter, _ id: OpID) -> Bool {
        guard case .quantize = r[id].kind, let x = r.operand(id, 0), [.int8, .uint8, .int16].contains(x.dtype),
            let q = x.quantization, q.scales.count == 1
        else { return false }
        return isPassThrough(r, id)
    }

    /// Input 0 and the single output have the same static shape and element type, and the
    /// output may be replaced (not a graph output, not a variable).
    package static func isPassThrough(_ r: Rewriter, _ id: OpID) -> Bool {
        guard r[id].outputs.count == 1, let xid = r[id].input(0), let x = r.operand(id, 0), let y = r.result(id) else { return false }
        let out = r[id].outputs[0]
        guard !r.graph.isGraphOutput(out), !y.isVariable, !x.isVariable, xid != out,
            !x.isDynamic, !y.isDynamic, x.shape == y.shape, x.type.sameParameters(as: y.type)
        else { return false }
        return true
    }

    package static func bypass(_ r: inout Rewriter, _ id: OpID) {
        let out = r[id].outputs[0]
        let input = r[id].inputs[0]
        r.erase(id)
        r.replaceAllUses(of: out, with: input)
    }

    public static let identityReshapePattern = Pattern(name: "remove-identity-reshape", rootKinds: [.reshape]) { r, id in
        guard isIdentityReshape(r, id) else { return false }
        bypass(&r, id)
        return true
    }

    public static let noopQuantizePattern = Pattern(name: "remove-noop-quantize", rootKinds: [.quantize]) { r, id in
        guard isNoOpQuantize(r, id) else { return false }
        bypass(&r, id)
        return true
    }

    // MARK: Dead ops

    /// Builtins without side effects that the IR keeps opaquely. Anything not listed (custom
    /// ops, control flow, variables, random numbers, hash tables, stateful sequence ops) is
    /// kept even when nothing reads its outputs.
    package static let pureOpaqueBuiltins: Set<BuiltinOperator> = Set([
        "ABS", "ADD_N", "ARG_MAX", "ARG_MIN", "ATAN2", "BATCH_MATMUL", "BATCH_TO_SPACE_ND", "BROADCAST_ARGS",
        "BROADCAST_TO", "CAST", "CEIL", "COS", "CUMSUM", "DEPTH_TO_SPACE", "DIV", "ELU", "EQUAL", "EXP",
        "EXPAND_DIMS", "FILL", "FLOOR", "FLOOR_DIV", "FLOOR_MOD", "GATHER_ND", "GELU", "GREATER", "GREATER_EQUAL",
        "HARD_SWISH", "L2_NORMALIZATION", "L2_POOL_2D", "LEAKY_RELU", "LESS", "LESS_EQUAL", "LOCAL_RESPONSE_NORMALIZATION",
        "LOG", "LOG_SOFTMAX", "LOGICAL_AND", "LOGICAL_NOT", "LOGICAL_OR", "MAXIMUM", "MINIMUM", "MIRROR_PAD", "NEG",
        "NOT_EQUAL", "ONE_HOT", "PADV2", "POW", "PRELU", "RANGE", "RANK", "REDUCE_ALL", "REDUCE_ANY", "REDUCE_MAX",
        "REDUCE_MIN", "REDUCE_PROD", "RELU_N1_TO_1", "RELU_0_TO_1", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR",
        "REVERSE_V2", "ROUND", "RSQRT", "SELECT", "SELECT_V2", "SIGN", "SIN", "SLICE", "SPACE_TO_BATCH_ND",
        "SPACE_TO_DEPTH", "SPLIT", "SPLIT_V", "SQRT", "SQUARE", "SQUARED_DIFFERENCE", "SUM", "TILE", "TRANSPOSE",
        "TRANSPOSE_CONV", "UNPACK", "ZEROS_LIKE",
    ].compactMap { BuiltinOperator(name: $0) })

    /// True for an op that only computes its outputs from its inputs.
    public static func isPure(_ op: Op, in g: Graph) -> Bool {
        if op.mutatingVariableInputs.contains(true) { return false }
        for v in op.inputs + op.outputs where !v.isAbsent && v.index < g.values.count && g.values[v.index].isVariable { return false }
        switch op.kind {
        case .custom: return false
        case .builtin(let code, _): return pureOpaqueBuiltins.contains(code)
        default: return true
        }
    }

    /// Erases pure ops none of whose outputs is read (by an op or as a graph output), walking
    /// backwards so chains of dead ops go in one sweep. Returns how many were erased.
    @discardableResult
    public static func removeDeadOps(_ model: inout Model, subgraph s: Int) -> Int {
        var g = model.subgraphs[s]
        var counts = g.useCounts()
        var erased = 0
        for i in g.ops.indices.reversed() where !g.ops[i].isErased {
            let op = g.ops[i]
            guard !op.outputs.isEmpty, isPure(op, in: g),
                op.outputs.allSatisfy({ $0.isAbsent || ($0.index < counts.count && counts[$0.index] == 0) })
            else { continue }
            g.ops[i].isErased = true
            erased += 1
            for v in op.inputs where !v.isAbsent && v.index < counts.count { counts[v.index] -= 1 }
        }
        if erased > 0 {
            g.ops.removeAll { $0.isErased }
            model.subgraphs[s] = g
        }
        return erased
    }
}
