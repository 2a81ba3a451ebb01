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

/// A parsed and validated rule: what to match, what must hold, and what to do.
/// Made by `RuleParser` from a `CustomRule`'s YAML; run by `RuleMatcher` and `RuleRewrite`.
package struct RuleDefinition: Sendable {
    package var name: String
    package var description: String?
    package var location: SourceLocation
    /// The root first, then each op in an order where one of its outputs is read by an op
    /// before it, so the matcher walks from the root up through producers.
    package var patterns: [OpPattern]
    package var conditions: [LocatedExpr]
    package var actions: [RuleAction]

    /// Builtin ops the root may be; nil for any op.
    package var rootKinds: Set<BuiltinOperator>? { patterns[0].kinds.map(Set.init) }

    /// "RELU6 ← CONV_2D|DEPTHWISE_CONV_2D" for summaries.
    package var shapeSummary: String {
        patterns.map { p in (p.kinds?.map(\.name).joined(separator: "|") ?? "any") }.joined(separator: " ← ")
    }
}

/// An expression with its source text and place.
package struct LocatedExpr: Sendable {
    package var expr: RuleExpr
    package var text: String
    package var location: SourceLocation
}

/// A text with `{expression}` parts, for tensor names: `"{w.name}/bias"`.
package struct NameTemplate: Sendable {
    package enum Part: Sendable {
        case text(String)
        case expr(RuleExpr)
    }
    package var parts: [Part]
    package var text: String
    package var location: SourceLocation
}

/// One op of the matched DAG.
package struct OpPattern: Sendable {
    package var name: String
    /// nil: any op.
    package var kinds: [BuiltinOperator]?
    /// nil: any inputs.
    package var inputs: OperandList?
    /// nil: any outputs.
    package var outputs: OperandList?
    /// For two-input ops: also try the first two inputs swapped.
    package var commutative: Bool
    package var location: SourceLocation
    /// For every op but the root: a name among its outputs bound by an op matched before it.
    package var linkOutput: String?
}

package struct OperandList: Sendable {
    package enum Operand: Sendable, Equatable {
        /// A name to bind (or check); `optional` (`b?`): may be absent or missing.
        case name(String, optional: Bool)
        /// `_` (or `_?`): anything, not bound.
        case any(optional: Bool)

        package var isOptional: Bool {
            switch self {
            case .name(_, let o), .any(let o): o
            }
        }
        package var boundName: String? {
            if case .name(let n, _) = self { return n }
            return nil
        }
    }
    package var items: [Operand]
    /// Ends with `...`: further operands are allowed and ignored.
    package var open: Bool

    package var minimumCount: Int { items.lastIndex { !$0.isOptional }.map { $0 + 1 } ?? 0 }
}

/// An op's version after `insert` or `convert`.
package enum VersionSpec: Sendable {
    /// The lowest version its types need (TFLite op_version.cc rules, `OpVersions`).
    case minimum
    /// Leave it (convert only).
    case keep
    case fixed(LocatedExpr)
}

package struct AttributeSetting: Sendable {
    package var name: String
    package var value: LocatedExpr
}

/// Quantization fields given to `constant:`, `tensor:` or `set:`.
package struct QuantSetting: Sendable {
    package var field: String
    package var value: LocatedExpr
}

package enum ArithmeticOperand: Sendable {
    case tensor(String)
    case scalar(LocatedExpr)
}

/// One transform of a constant (a `constant:` action does at most one).
package enum ConstantTransform: Sendable {
    case transpose(LocatedExpr)
    case reshape(LocatedExpr)
    case slice(axis: LocatedExpr, start: LocatedExpr, end: LocatedExpr)
    /// multiply / add / subtract / divide, elementwise or along `axis` (one value per slice).
    case arithmetic(String, by: ArithmeticOperand, axis: LocatedExpr?)

    package var name: String {
        switch self {
        case .transpose: "transpose"
        case .reshape: "reshape"
        case .slice: "slice"
        case .arithmetic(let op, _, _): op
        }
    }
}

package enum ConstantSource: Sendable {
    case from(String)
    /// `fill: value` with `dtype` and `shape`.
    case fill(LocatedExpr, dtype: DType, shape: LocatedExpr)
    /// `values: [..]` with `dtype` and optional `shape` (default: [count]).
    case values(LocatedExpr, dtype: DType, shape: LocatedExpr?)
}

package struct SetTarget: Sendable {
    package enum Value: Sendable {
        case expr(LocatedExpr)
        case template(NameTemplate)
    }
    package var name: String
    package var field: String
    package var isOp: Bool
    package var value: Value
    package var location: SourceLocation
}

package struct RuleAction: Sendable {
    package enum Kind: Sendable {
        case set([SetTarget])
        case convert(op: String, to: BuiltinOperator, customCode: String?, attributes: [AttributeSetting], version: VersionSpec)
        case insert(bind: String?, op: BuiltinOperator, customCode: String?, inputs: [String?], outputs: [String], attributes: [AttributeSetting], version: VersionSpec)
        case erase([String])
        case fuse(op: String, into: String)
        case replaceUses(of: String, with: String)
        case setInput(op: String, index: LocatedExpr, tensor: String?, inPlace: Bool)
        case constant(bind: String, source: ConstantSource, transform: ConstantTransform?, name: NameTemplate?, quantization: [QuantSetting])
        case tensor(bind: String, like: String?, dtype: DType?, shape: LocatedExpr?, name: NameTemplate?, quantization: [QuantSetting])
        case call(function: String, arguments: [LocatedExpr])
    }
    package var verb: String
    package var kind: Kind
    package var when: LocatedExpr?
    package var location: SourceLocation
}
