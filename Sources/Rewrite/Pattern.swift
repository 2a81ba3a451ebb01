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
public struct Rewriter {
    public var model: Model
    public let subgraph: Int
    public var context: PassContext

    public init(model: Model, subgraph: Int, context: PassContext) {
        self.model = model
        self.subgraph = subgraph
        self.context = context
    }

    public var graph: Graph {
        get { model.subgraphs[subgraph] }
        set { model.subgraphs[subgraph] = newValue }
    }
    public subscript(_ id: OpID) -> Op {
        get { model.subgraphs[subgraph].ops[id.index] }
        set { model.subgraphs[subgraph].ops[id.index] = newValue }
    }
    public subscript(_ id: ValueID) -> Value {
        get { model.subgraphs[subgraph].values[id.index] }
        set { model.subgraphs[subgraph].values[id.index] = newValue }
    }

    public func constant(_ id: ValueID) -> ConstantTensor? { model.constant(id, in: subgraph) }
    public func isConstant(_ id: ValueID) -> Bool { model.isConstant(id, in: subgraph) }
    public func producer(of v: ValueID) -> OpID? { graph.producer(of: v) }
    public func uses(of v: ValueID) -> [(op: OpID, operand: Int)] { graph.uses(of: v) }
    /// True when exactly one op reads `v` and it is not a graph output.
    public func hasSingleUse(_ v: ValueID) -> Bool { uses(of: v).count == 1 && !graph.isGraphOutput(v) }

    public mutating func setConstant(_ id: ValueID, _ t: ConstantTensor) { model.setConstant(id, t, in: subgraph) }
    @discardableResult
    public mutating func addConstant(_ t: ConstantTensor, name: String) -> ValueID { model.addConstant(t, name: name, in: subgraph) }
    @discardableResult
    public mutating func addValue(_ v: Value) -> ValueID { model.subgraphs[subgraph].addValue(v) }
    @discardableResult
    public mutating func addOp(_ op: Op) -> OpID { model.subgraphs[subgraph].addOp(op) }
    public mutating func erase(_ op: OpID) { model.subgraphs[subgraph].eraseOp(op) }
    public mutating func replaceAllUses(of old: ValueID, with new: ValueID) {
        model.subgraphs[subgraph].replaceAllUses(of: old, with: new)
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
            model = rewriter.model
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
