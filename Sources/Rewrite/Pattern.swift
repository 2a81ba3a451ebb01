import FlatBuffers
import IR
import Ops
import Support

/// A local rewrite: where it may start (root op kinds), and a function that matches at an op
/// and rewrites, returning false when it does not match. Built-in passes and YAML rules both
/// produce these and run them in `GreedyRewriteDriver`.
public struct Pattern: Sendable {
    public var name: String
    /// Builtin ops the root may be; nil matches any op.
    public var rootKinds: Set<BuiltinOperator>?
    /// Higher benefit patterns are tried first at an op.
    public var benefit: Int
    public var matchAndRewrite: @Sendable (inout Rewriter, OpID) throws -> Bool

    public init(name: String, rootKinds: Set<BuiltinOperator>?, benefit: Int = 1, matchAndRewrite: @escaping @Sendable (inout Rewriter, OpID) throws -> Bool) {
        self.name = name
        self.rootKinds = rootKinds
        self.benefit = benefit
        self.matchAndRewrite = matchAndRewrite
    }
}

/// The mutable view a pattern gets: the model and the subgraph being rewritten, with the
/// helpers rewrites need. Values are never renumbered while patterns run; erased ops are
/// removed and new ops ordered when the driver compacts the graph.
///
/// Use/def questions (`producer(of:)`, `uses(of:)`) are answered from a `UseDefIndex` that the
/// op subscript, `addOp`, `erase` and `replaceAllUses` keep current; changing `model` or `graph`
/// directly rebuilds it (O(graph) once, e.g. after the driver compacts).
public struct Rewriter {
    private var storage: Model
    private var useDef: UseDefIndex
    public let subgraph: Int
    public var context: PassContext

    public init(model: Model, subgraph: Int, context: PassContext) {
        self.storage = model
        self.useDef = UseDefIndex(model.subgraphs.indices.contains(subgraph) ? model.subgraphs[subgraph] : Graph())
        self.subgraph = subgraph
        self.context = context
    }

    /// The index for the model as it is now (an empty one when `subgraph` is out of range, so
    /// a rewriter over no graph traps only when asked about one, as before it had an index).
    private mutating func rebuildIndex() {
        useDef = UseDefIndex(storage.subgraphs.indices.contains(subgraph) ? storage.subgraphs[subgraph] : Graph())
    }

    // `_modify` lets callers change the model in place: a get/set pair would copy the whole
    // graph on every write.
    public var model: Model {
        get { storage }
        set {
            storage = newValue
            rebuildIndex()
        }
        _modify {
            yield &storage
            rebuildIndex()
        }
    }
    public var graph: Graph {
        get { storage.subgraphs[subgraph] }
        set {
            storage.subgraphs[subgraph] = newValue
            rebuildIndex()
        }
        _modify {
            yield &storage.subgraphs[subgraph]
            rebuildIndex()
        }
    }
    public subscript(_ id: OpID) -> Op {
        get { storage.subgraphs[subgraph].ops[id.index] }
        set {
            let old = storage.subgraphs[subgraph].ops[id.index]
            storage.subgraphs[subgraph].ops[id.index] = newValue
            useDef.opChanged(at: id, from: old, to: newValue)
        }
    }
    public subscript(_ id: ValueID) -> Value {
        get { storage.subgraphs[subgraph].values[id.index] }
        set { storage.subgraphs[subgraph].values[id.index] = newValue }
    }

    public func constant(_ id: ValueID) -> ConstantTensor? { storage.constant(id, in: subgraph) }
    public func isConstant(_ id: ValueID) -> Bool { storage.isConstant(id, in: subgraph) }
    public func producer(of v: ValueID) -> OpID? { useDef.producer(of: v, in: storage.subgraphs[subgraph]) }
    public func uses(of v: ValueID) -> [(op: OpID, operand: Int)] { useDef.uses(of: v, in: storage.subgraphs[subgraph]) }
    /// `uses(of: v).count`, without building the list.
    public func useCount(of v: ValueID) -> Int { useDef.useCount(of: v, in: storage.subgraphs[subgraph]) }
    /// True when exactly one op reads `v` and it is not a graph output.
    public func hasSingleUse(_ v: ValueID) -> Bool { useCount(of: v) == 1 && !graph.isGraphOutput(v) }

    public mutating func setConstant(_ id: ValueID, _ t: ConstantTensor) { storage.setConstant(id, t, in: subgraph) }
    @discardableResult
    public mutating func addConstant(_ t: ConstantTensor, name: String) -> ValueID { storage.addConstant(t, name: name, in: subgraph) }
    @discardableResult
    public mutating func addValue(_ v: Value) -> ValueID { storage.subgraphs[subgraph].addValue(v) }
    @discardableResult
    public mutating func addOp(_ op: Op) -> OpID {
        let id = storage.subgraphs[subgraph].addOp(op)
        useDef.opAppended(op, at: id)
        return id
    }
    public mutating func erase(_ op: OpID) { self[op].isErased = true }
    /// `Graph.replaceAllUses(of:with:)`, visiting only the ops that read `old`.
    public mutating func replaceAllUses(of old: ValueID, with new: ValueID) {
        for use in uses(of: old) { self[use.op].inputs[use.operand] = new }
        for k in storage.subgraphs[subgraph].outputs.indices where storage.subgraphs[subgraph].outputs[k] == old {
            storage.subgraphs[subgraph].outputs[k] = new
        }
    }
}

/// Runs patterns to a fixed point: sweep the live ops in order, apply the first pattern (by
/// benefit) that matches at each, compact, repeat until a sweep changes nothing. A cap on
/// sweeps turns a rewrite cycle into an error instead of a hang.
public struct GreedyRewriteDriver {
    public var patterns: [Pattern]
    public var maxIterations: Int
    public var passName: String

    public init(patterns: [Pattern], passName: String, maxIterations: Int = 64) {
        self.patterns = patterns.sorted { $0.benefit > $1.benefit }
        self.maxIterations = maxIterations
        self.passName = passName
    }

    /// Returns true when any pattern fired.
    public func run(on model: inout Model, context: inout PassContext) throws -> Bool {
        var changedAny = false
        for s in model.subgraphs.indices {
            var rewriter = Rewriter(model: model, subgraph: s, context: context)
            // The rewriter holds the only reference, so its writes do not copy every subgraph
            // (that made models with many subgraphs quadratic). On an error the model is the
            // rewriter's, as far as it got.
            model = Model()
            defer { model = rewriter.model }
            var iteration = 0
            let budget = RewriteBudget(rewriter.graph)
            while true {
                var fired: [String] = []
                var i = 0
                while i < rewriter.graph.ops.count {
                    let id = OpID(i)
                    i += 1
                    guard !rewriter[id].isErased else { continue }
                    let kind = rewriter[id].builtinOperator
                    for p in patterns where p.rootKinds?.contains(kind) ?? true {
                        if try p.matchAndRewrite(&rewriter, id) {
                            fired.append(p.name)
                            rewriter.context.count(p.name)
                            try budget.check(rewriter.graph, pass: passName, pattern: p.name, subgraph: s)
                            break
                        }
                        if rewriter[id].isErased { break }
                    }
                }
                guard rewriter.model.subgraphs[s].compact() else {
                    throw PassError.failed(pass: passName, message: "a rewrite created a cycle in subgraph \(s)")
                }
                if fired.isEmpty { break }
                changedAny = true
                iteration += 1
                if iteration >= maxIterations {
                    throw PassError.didNotConverge(pass: passName, iterations: iteration, stillFiring: Array(Set(fired)).sorted())
                }
            }
            context = rewriter.context
        }
        return changedAny
    }
}

/// A pass made of patterns run by the greedy driver.
public protocol PatternPass: GraphPass {
    var patterns: [Pattern] { get }
}

extension PatternPass {
    public mutating func run(on model: inout Model, context: inout PassContext) throws -> Bool {
        try GreedyRewriteDriver(patterns: patterns, passName: Self.name).run(on: &model, context: &context)
    }
}
