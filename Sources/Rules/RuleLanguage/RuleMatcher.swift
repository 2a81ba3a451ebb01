import Export
import FlatBuffers
import IR
import Kernels
import Ops
import PassCatalog
import Passes
import Quantize
import Rewrite
import Support

/// Matches a rule's op DAG at a root op: the root's inputs and outputs bind names, then each
/// other op is found as the producer of a tensor already bound, and so on up the graph. A name
/// used twice must be the same tensor; an op matches one pattern at most. Commutative ops try
/// their first two inputs in both orders, and the conditions are checked for each candidate
/// (so `MUL(c, x)` is found when `MUL(x, c)` fails them).
package struct RuleMatcher {
    package let rule: RuleDefinition

    /// The bindings of the first full match at `root`, nil when there is none.
    package func match(_ r: Rewriter, at root: OpID) -> RuleBindings? {
        var found: RuleBindings?
        search(r, pattern: 0, op: root, RuleBindings(), &found)
        return found
    }

    private func search(_ r: Rewriter, pattern k: Int, op given: OpID?, _ bindings: RuleBindings, _ found: inout RuleBindings?) {
        if found != nil { return }
        if k == rule.patterns.count {
            let evaluator = RuleEvaluator(snapshot: r, current: r, bindings: bindings)
            for c in rule.conditions {
                // An expression that cannot be evaluated here (a property of an absent tensor,
                // an index out of range) means "no match".
                guard (try? evaluator.condition(c.expr)) == true else { return }
            }
            found = bindings
            return
        }
        let p = rule.patterns[k]
        let id: OpID
        if let given {
            id = given
        } else {
            guard let link = p.linkOutput, case .tensor(.value(let v, _))? = bindings.values[link], !v.isAbsent, let producer = r.producer(of: v) else { return }
            id = producer
        }
        guard id.index < r.graph.ops.count, !r[id].isErased, !bindings.matchedOps.contains(id) else { return }
        let op = r[id]
        if let kinds = p.kinds, !kinds.contains(op.builtinOperator) { return }
        var b = bindings
        b.values[p.name] = .op(id, matched: true)
        b.matchedOps.insert(id)
        if let outs = p.outputs {
            guard bind(outs, op.outputs, r, &b) else { return }
        }
        guard let ins = p.inputs else {
            search(r, pattern: k + 1, op: nil, b, &found)
            return
        }
        var orders = [op.inputs]
        if p.commutative, op.inputs.count >= 2 {
            var swapped = op.inputs
            swapped.swapAt(0, 1)
            orders.append(swapped)
        }
        for inputs in orders {
            var c = b
            guard bind(ins, inputs, r, &c) else { continue }
            search(r, pattern: k + 1, op: nil, c, &found)
            if found != nil { return }
        }
    }

    /// Binds an operand list to an op's operands; false when they do not fit.
    private func bind(_ list: OperandList, _ actual: [ValueID], _ r: Rewriter, _ b: inout RuleBindings) -> Bool {
        if actual.count < list.minimumCount { return false }
        if !list.open && actual.count > list.items.count { return false }
        for (k, operand) in list.items.enumerated() {
            let v: ValueID = k < actual.count ? actual[k] : .absent
            if v.isAbsent && !operand.isOptional { return false }
            if !v.isAbsent && v.index >= r.graph.values.count { return false }
            guard let name = operand.boundName else { continue }
            let value = RuleValue.tensor(.value(v, matched: true))
            if let existing = b.values[name] {
                guard existing == value else { return false }
            } else {
                b.values[name] = value
            }
        }
        return true
    }
}
