/// A parsed and validated rule: what to match, what must hold, and what to do.
/// Made by `RuleParser` from a `CustomRule`'s YAML; run by `RuleMatcher` and `RuleRewrite`.
struct RuleDefinition: Sendable {
    var name: String
    var description: String?
    var location: SourceLocation
    /// The root first, then each op in an order where one of its outputs is read by an op
    /// before it, so the matcher walks from the root up through producers.
    var patterns: [OpPattern]
    var conditions: [LocatedExpr]
    var actions: [RuleAction]

    /// Builtin ops the root may be; nil for any op.
    var rootKinds: Set<BuiltinOperator>? { patterns[0].kinds.map(Set.init) }

    /// "RELU6 ← CONV_2D|DEPTHWISE_CONV_2D" for summaries.
    var shapeSummary: String {
        patterns.map { p in (p.kinds?.map(\.name).joined(separator: "|") ?? "any") }.joined(separator: " ← ")
    }
}

/// An expression with its source text and place.
struct LocatedExpr: Sendable {
    var expr: RuleExpr
    var text: String
    var location: SourceLocation
}

/// A text with `{expression}` parts, for tensor names: `"{w.name}/bias"`.
struct NameTemplate: Sendable {
    enum Part: Sendable {
        case text(String)
        case expr(RuleExpr)
    }
    var parts: [Part]
    var text: String
    var location: SourceLocation
}

/// One op of the matched DAG.
struct OpPattern: Sendable {
    var name: String
    /// nil: any op.
    var kinds: [BuiltinOperator]?
    /// nil: any inputs.
    var inputs: OperandList?
    /// nil: any outputs.
    var outputs: OperandList?
    /// For two-input ops: also try the first two inputs swapped.
    var commutative: Bool
    var location: SourceLocation
    /// For every op but the root: a name among its outputs bound by an op matched before it.
    var linkOutput: String?
}

struct OperandList: Sendable {
    enum Operand: Sendable, Equatable {
        /// A name to bind (or check); `optional` (`b?`): may be absent or missing.
        case name(String, optional: Bool)
        /// `_` (or `_?`): anything, not bound.
        case any(optional: Bool)

        var isOptional: Bool {
            switch self {
            case .name(_, let o), .any(let o): o
            }
        }
        var boundName: String? {
            if case .name(let n, _) = self { return n }
            return nil
        }
    }
    var items: [Operand]
    /// Ends with `...`: further operands are allowed and ignored.
    var open: Bool

    var minimumCount: Int { items.lastIndex { !$0.isOptional }.map { $0 + 1 } ?? 0 }
}

/// An op's version after `insert` or `convert`.
enum VersionSpec: Sendable {
    /// The lowest version its types need (TFLite op_version.cc rules, `OpVersions`).
    case minimum
    /// Leave it (convert only).
    case keep
    case fixed(LocatedExpr)
}

struct AttributeSetting: Sendable {
    var name: String
    var value: LocatedExpr
}

/// Quantization fields given to `constant:`, `tensor:` or `set:`.
struct QuantSetting: Sendable {
    var field: String
    var value: LocatedExpr
}

enum ArithmeticOperand: Sendable {
    case tensor(String)
    case scalar(LocatedExpr)
}

/// One transform of a constant (a `constant:` action does at most one).
enum ConstantTransform: Sendable {
    case transpose(LocatedExpr)
    case reshape(LocatedExpr)
    case slice(axis: LocatedExpr, start: LocatedExpr, end: LocatedExpr)
    /// multiply / add / subtract / divide, elementwise or along `axis` (one value per slice).
    case arithmetic(String, by: ArithmeticOperand, axis: LocatedExpr?)

    var name: String {
        switch self {
        case .transpose: "transpose"
        case .reshape: "reshape"
        case .slice: "slice"
        case .arithmetic(let op, _, _): op
        }
    }
}

enum ConstantSource: Sendable {
    case from(String)
    /// `fill: value` with `dtype` and `shape`.
    case fill(LocatedExpr, dtype: DType, shape: LocatedExpr)
    /// `values: [..]` with `dtype` and optional `shape` (default: [count]).
    case values(LocatedExpr, dtype: DType, shape: LocatedExpr?)
}

struct SetTarget: Sendable {
    enum Value: Sendable {
        case expr(LocatedExpr)
        case template(NameTemplate)
    }
    var name: String
    var field: String
    var isOp: Bool
    var value: Value
    var location: SourceLocation
}

struct RuleAction: Sendable {
    enum Kind: Sendable {
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
    var verb: String
    var kind: Kind
    var when: LocatedExpr?
    var location: SourceLocation
}
