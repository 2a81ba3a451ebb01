import FlatBuffers
import IR
import Ops
import Support

/// How far one run of the greedy driver may grow a subgraph. A pattern whose result matches
/// the pattern again (RELU → RELU, RELU) fires on its own output forever inside one sweep,
/// which the sweep cap cannot see; this turns it into an error naming the pattern.
/// Real rewrites replace an op by a handful, so sixteen times the ops plus a margin is
/// far above any legitimate growth.
package struct RewriteBudget {
    package static let growthFactor = 16
    package static let margin = 4096

    package let opsAtStart: Int
    package let valuesAtStart: Int
    package let maxOps: Int
    package let maxValues: Int

    package init(_ graph: Graph) {
        opsAtStart = graph.ops.count
        valuesAtStart = graph.values.count
        maxOps = Self.limit(from: opsAtStart)
        maxValues = Self.limit(from: valuesAtStart)
    }

    package static func limit(from count: Int) -> Int {
        count.multipliedReportingOverflow(by: growthFactor).partialValue.addingReportingOverflow(margin).partialValue
    }

    package func check(_ graph: Graph, pass: String, pattern: String, subgraph: Int) throws {
        guard graph.ops.count <= maxOps, graph.values.count <= maxValues else {
            // Erased ops keep their slots until the sweep ends; report the live ones.
            throw RewriteBudgetExceeded(
                pass: pass, pattern: pattern, subgraph: subgraph, opsBefore: opsAtStart,
                opsAfter: graph.ops.lazy.filter { !$0.isErased }.count,
                valuesBefore: valuesAtStart, valuesAfter: graph.values.count)
        }
    }
}

/// A pattern grew a subgraph past `RewriteBudget` in one run of its pass.
public struct RewriteBudgetExceeded: Error, CustomStringConvertible, Equatable {
    public var pass: String
    /// The pattern that fired last (for rules files, the rule's name and location).
    public var pattern: String
    public var subgraph: Int
    public var opsBefore: Int
    public var opsAfter: Int
    public var valuesBefore: Int
    public var valuesAfter: Int

    public var description: String {
        "pass \(pass): \(pattern) keeps growing subgraph \(subgraph) (from \(opsBefore) to \(opsAfter) ops and \(valuesBefore) to \(valuesAfter) tensors in one run); does its result match its own pattern again?"
    }
}
