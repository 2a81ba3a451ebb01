import FlatBuffers
import IR
import Kernels
import Ops
import Rewrite
import Support

/// Replaces an IF whose condition is a constant with the ops of the branch it always takes, so
/// the model needs no IF and no branch subgraphs (what `unroll-while` leaves when a loop body
/// held an IF on the counter, or a converter left on a constant flag).
///
/// Given (IfOptions: then subgraph 1, else subgraph 2):
///
///     subgraph 0 "main"
///       input %0 "x": f32[1,4]
///       const %1 "flag": i1[] = [1]
///       #0 IF v1 {…} (%1, %0) -> %2 "y": f32[1,4]
///       output %2
///     subgraph 1 "then"                      RELU(x)
///     subgraph 2 "else"                      TANH(x)
///
/// Result (subgraphs 1 and 2 are gone):
///
///     subgraph 0 "main"
///       input %0 "x": f32[1,4]
///       #0 RELU v1 (%0) -> %1 "y": f32[1,4]
///       output %1
///
/// The branch: the condition's first element, as TFLM's if.cc reads it (a bool tensor). Copied
/// tensors are named `<name>/then` or `<name>/else`; the branch's constants are shared with
/// the branch (same buffer). A branch nothing else calls is removed and the remaining
/// subgraph indices renumbered. An IF on a runtime condition stays.
///
/// CALL_ONCE is not inlined: its init subgraph must run once per interpreter (it initialises
/// resource variables); copied into the main subgraph it would run, and reset the state, on
/// every invocation.
public struct InlineConstantIf: GraphPass {
    public static let name = "inline-constant-if"
    public static let summary = "Replace an IF on a constant condition with the ops of the branch it takes; drop the unused branch subgraphs"

    public init(options: PassOptions = PassOptions()) throws {
        _ = try PassOptionReader(options, pass: Self.name, known: [])
    }

    public mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool {
        var inlined = Set<Int>()
        search: while true {
            for s in model.subgraphs.indices {
                for i in model.subgraphs[s].ops.indices {
                    let op = model.subgraphs[s].ops[i]
                    guard !op.isErased, op.builtinOperator == .ifThenElse, let callees = Self.inline(&model, subgraph: s, op: i) else { continue }
                    context.count("\(Self.name).inlined")
                    inlined.formUnion(callees)
                    continue search
                }
            }
            break
        }
        guard !inlined.isEmpty else { return false }
        let removed = SubgraphCalls.removeUncalled(&model, candidates: inlined)
        if removed > 0 { context.count("\(Self.name).subgraphs-removed", removed) }
        return true
    }

    /// Inlines the branch; returns the IF's two subgraphs, or nil when it stays.
    private static func inline(_ model: inout Model, subgraph s: Int, op opIndex: Int) -> [Int]? {
        let call = model.subgraphs[s].ops[opIndex]
        guard case .builtin(_, let options?) = call.kind, let condition = call.input(0),
            let flag = model.constant(condition, in: s), flag.type.dtype == .bool, let first = flag.bytes.first
        else { return nil }
        // IfOptions (schema.fbs): field 0 then_subgraph_index, field 1 else_subgraph_index.
        let then = Int(options.int32(0, default: 0)), otherwise = Int(options.int32(1, default: 0))
        let taken = first != 0 ? then : otherwise
        guard [then, otherwise].allSatisfy({ $0 >= 0 && $0 < model.subgraphs.count && $0 != s }) else { return nil }
        let branch = model.subgraphs[taken]
        let arguments = Array(call.inputs.dropFirst())
        guard branch.inputs.count == arguments.count, branch.outputs.count == call.outputs.count,
            !arguments.contains(where: \.isAbsent), !branch.outputs.contains(where: \.isAbsent),
            !branch.values.contains(where: \.isVariable), var inliner = SubgraphInliner(callee: branch)
        else { return nil }
        var work = model
        var graph = work.subgraphs[s]
        let results = inliner.inline(into: &graph, model: &work, inputs: arguments, suffix: first != 0 ? "/then" : "/else")
        guard inliner.replace(OpID(opIndex), with: results, in: &graph) == nil, graph.compact() else { return nil }
        work.subgraphs[s] = graph
        model = work
        return [then, otherwise]
    }
}
