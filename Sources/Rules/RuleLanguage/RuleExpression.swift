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

/// The expression language of rules: conditions in `where:` and `when:`, attribute values,
/// shapes and the `{…}` parts of name templates.
///
///     x.rank == 4 and x.shape[-1] == 1
///     p.op != DEPTHWISE_CONV_2D or p.quantized_bias_type == 0
///     if(p.op == DEPTHWISE_CONV_2D, w.shape[3], w.shape[0])
///
/// Names are the ops and tensors the rule binds; any other identifier is a symbol (a dtype such
/// as `int8`, an activation such as `RELU6`, a padding, an op name), checked against the
/// property it is compared with. Expressions are parsed and type-checked when the rules file is
/// loaded, so a typo or a comparison of an int with a dtype is a `file:line` error.
package indirect enum RuleExpr: Hashable, Sendable {
    case bool(Bool)
    case int(Int64)
    case float(Double)
    case string(String)
    /// An identifier that is not a bound name: an enumeration value (`int8`, `RELU6`, `SAME`).
    case symbol(String)
    /// A bound op or tensor.
    case name(String)
    case property(RuleExpr, String)
    case index(RuleExpr, RuleExpr)
    case list([RuleExpr])
    case unary(String, RuleExpr)
    case binary(String, RuleExpr, RuleExpr)
    case call(String, [RuleExpr])

    /// Names of bound things this expression reads, with the properties read of each.
    package func propertyReads(into out: inout [(name: String, property: String)]) {
        switch self {
        case .property(.name(let n), let p): out.append((n, p))
        case .property(let e, _): e.propertyReads(into: &out)
        case .index(let a, let b), .binary(_, let a, let b):
            a.propertyReads(into: &out)
            b.propertyReads(into: &out)
        case .unary(_, let e): e.propertyReads(into: &out)
        case .list(let l), .call(_, let l): l.forEach { $0.propertyReads(into: &out) }
        default: break
        }
    }

    /// The number of levels of the tree, measured without recursion (a hostile expression may be
    /// too deep to walk recursively).
    package var height: Int {
        var deepest = 0
        var pending: [(RuleExpr, Int)] = [(self, 1)]
        while let (e, level) = pending.popLast() {
            deepest = max(deepest, level)
            switch e {
            case .property(let x, _), .unary(_, let x): pending.append((x, level + 1))
            case .index(let a, let b), .binary(_, let a, let b): pending += [(a, level + 1), (b, level + 1)]
            case .list(let l), .call(_, let l): pending += l.map { ($0, level + 1) }
            case .bool, .int, .float, .string, .symbol, .name: break
            }
        }
        return deepest
    }

    /// The conjuncts of a chain of `and`s (the expression itself otherwise).
    package var conjuncts: [RuleExpr] {
        if case .binary("and", let a, let b) = self { return a.conjuncts + b.conjuncts }
        return [self]
    }
}

/// A parse or type error inside one expression; the rule parser adds the file and line.
package struct RuleExprError: Error {
    package var message: String
    package init(_ message: String) { self.message = message }
}

// MARK: Lexer and parser

package struct RuleExprParser {
    package enum Token: Equatable {
        case ident(String), int(Int64), float(Double), string(String), op(String), end
    }

    private var tokens: [Token] = []
    private var position = 0
    private let isBound: (String) -> Bool
    private let text: String

    /// Parses `text`; `isBound` tells bound names from symbols.
    package static func parse(_ text: String, isBound: @escaping (String) -> Bool) throws -> RuleExpr {
        var p = RuleExprParser(text: text, isBound: isBound)
        p.tokens = try tokenize(text)
        let e = try p.expression()
        guard p.peek == .end else { throw RuleExprError("unexpected \(describe(p.peek)) after a complete expression") }
        // Type checking and evaluation recurse over the tree: a long chain (`a + a + … + a`) is
        // as deep as heavy nesting, so the finished tree is measured too.
        guard e.height <= maxNesting else { throw RuleExprError("the expression is nested more than \(maxNesting) levels deep") }
        return e
    }

    /// Deepest nesting of parentheses, brackets, calls and operators an expression may have;
    /// the parser and every walk over the tree recurse once per level.
    package static let maxNesting = 256
    private var nesting = 0

    /// An expression as quoted in an error: long ones are cut, so the error stays one readable line.
    package static func excerpt(_ text: String) -> String {
        text.count <= 80 ? text : String(text.prefix(60)) + "… (\(text.count) characters)"
    }

    /// Runs `parse` one nesting level deeper, refusing to go past `maxNesting`.
    private mutating func nested<R>(_ parse: (inout RuleExprParser) throws -> R) throws -> R {
        guard nesting < Self.maxNesting else { throw RuleExprError("the expression is nested more than \(Self.maxNesting) levels deep") }
        nesting += 1
        defer { nesting -= 1 }
        return try parse(&self)
    }

    private init(text: String, isBound: @escaping (String) -> Bool) {
        self.text = text
        self.isBound = isBound
    }

    package static func tokenize(_ text: String) throws -> [Token] {
        let chars = Array(text)
        var out: [Token] = []
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == " " || c == "\t" || c == "\n" { i += 1; continue }
            if c.isLetter || c == "_" {
                var j = i
                while j < chars.count, chars[j].isLetter || chars[j].isNumber || chars[j] == "_" { j += 1 }
                out.append(.ident(String(chars[i..<j])))
                i = j
                continue
            }
            if c.isNumber {
                var j = i
                var isFloat = false
                while j < chars.count, chars[j].isNumber { j += 1 }
                if j < chars.count, chars[j] == ".", j + 1 < chars.count, chars[j + 1].isNumber {
                    isFloat = true
                    j += 1
                    while j < chars.count, chars[j].isNumber { j += 1 }
                }
                if j < chars.count, chars[j] == "e" || chars[j] == "E" {
                    var k = j + 1
                    if k < chars.count, chars[k] == "+" || chars[k] == "-" { k += 1 }
                    if k < chars.count, chars[k].isNumber {
                        isFloat = true
                        j = k
                        while j < chars.count, chars[j].isNumber { j += 1 }
                    }
                }
                let s = String(chars[i..<j])
                if isFloat {
                    guard let d = Double(s) else { throw RuleExprError("bad number '\(s)'") }
                    out.append(.float(d))
                } else {
                    guard let n = Int64(s) else { throw RuleExprError("number '\(s)' is too large") }
                    out.append(.int(n))
                }
                i = j
                continue
            }
            if c == "\"" || c == "'" {
                var j = i + 1
                var s = ""
                while j < chars.count, chars[j] != c {
                    if chars[j] == "\\", j + 1 < chars.count { j += 1 }
                    s.append(chars[j])
                    j += 1
                }
                guard j < chars.count else { throw RuleExprError("unterminated string") }
                out.append(.string(s))
                i = j + 1
                continue
            }
            let two = i + 1 < chars.count ? String(chars[i...(i + 1)]) : ""
            if ["==", "!=", "<=", ">="].contains(two) {
                out.append(.op(two))
                i += 2
                continue
            }
            if "<>+-*/%()[],.".contains(c) {
                out.append(.op(String(c)))
                i += 1
                continue
            }
            throw RuleExprError("unexpected character '\(c)'")
        }
        out.append(.end)
        return out
    }

    package static func describe(_ t: Token) -> String {
        switch t {
        case .ident(let s): "'\(s)'"
        case .int(let n): "'\(n)'"
        case .float(let d): "'\(d)'"
        case .string(let s): "\"\(s)\""
        case .op(let s): "'\(s)'"
        case .end: "the end"
        }
    }

    private var peek: Token { tokens[position] }
    private mutating func advance() -> Token {
        let t = tokens[position]
        if position < tokens.count - 1 { position += 1 }
        return t
    }
    private mutating func accept(_ op: String) -> Bool {
        if peek == .op(op) || peek == .ident(op) {
            _ = advance()
            return true
        }
        return false
    }
    private mutating func expect(_ op: String) throws {
        guard accept(op) else { throw RuleExprError("expected '\(op)', found \(Self.describe(peek))") }
    }

    package mutating func expression() throws -> RuleExpr { try nested { try $0.orExpr() } }

    private mutating func orExpr() throws -> RuleExpr {
        var e = try andExpr()
        while accept("or") { e = .binary("or", e, try andExpr()) }
        return e
    }
    private mutating func andExpr() throws -> RuleExpr {
        var e = try notExpr()
        while accept("and") { e = .binary("and", e, try notExpr()) }
        return e
    }
    private mutating func notExpr() throws -> RuleExpr {
        if accept("not") { return .unary("not", try nested { try $0.notExpr() }) }
        return try comparison()
    }
    private mutating func comparison() throws -> RuleExpr {
        let e = try additive()
        for op in ["==", "!=", "<=", ">=", "<", ">"] where accept(op) {
            return .binary(op, e, try additive())
        }
        return e
    }
    private mutating func additive() throws -> RuleExpr {
        var e = try multiplicative()
        while true {
            if accept("+") { e = .binary("+", e, try multiplicative()) } else if accept("-") { e = .binary("-", e, try multiplicative()) } else { return e }
        }
    }
    private mutating func multiplicative() throws -> RuleExpr {
        var e = try unary()
        while true {
            if accept("*") { e = .binary("*", e, try unary()) } else if accept("/") { e = .binary("/", e, try unary()) } else if accept("%") { e = .binary("%", e, try unary()) } else { return e }
        }
    }
    private mutating func unary() throws -> RuleExpr {
        if accept("-") {
            let inner = try nested { try $0.unary() }
            if case .int(let n) = inner { return .int(-n) }
            if case .float(let d) = inner { return .float(-d) }
            return .unary("-", inner)
        }
        return try postfix()
    }
    private mutating func postfix() throws -> RuleExpr {
        var e = try primary()
        while true {
            if accept(".") {
                guard case .ident(let p) = advance() else { throw RuleExprError("expected a property name after '.'") }
                e = .property(e, p)
            } else if accept("[") {
                let i = try expression()
                try expect("]")
                e = .index(e, i)
            } else {
                return e
            }
        }
    }
    private mutating func primary() throws -> RuleExpr {
        let t = advance()
        switch t {
        case .int(let n): return .int(n)
        case .float(let d): return .float(d)
        case .string(let s): return .string(s)
        case .op("("):
            let e = try expression()
            try expect(")")
            return e
        case .op("["):
            var items: [RuleExpr] = []
            if accept("]") { return .list([]) }
            repeat { items.append(try expression()) } while accept(",")
            try expect("]")
            return .list(items)
        case .ident(let s):
            switch s {
            case "true": return .bool(true)
            case "false": return .bool(false)
            case "and", "or", "not": throw RuleExprError("'\(s)' needs an operand before it")
            default: break
            }
            if peek == .op("(") {
                _ = advance()
                var args: [RuleExpr] = []
                if !accept(")") {
                    repeat { args.append(try expression()) } while accept(",")
                    try expect(")")
                }
                return .call(s, args)
            }
            return isBound(s) ? .name(s) : .symbol(s)
        default:
            throw RuleExprError("expected a value, found \(Self.describe(t))")
        }
    }
}

// MARK: Types

/// Enumerations whose values are written as symbols.
package enum RuleEnum: String, Hashable, Sendable {
    case dtype, activation, padding, opKind = "op"

    /// The canonical spelling of a symbol of this enumeration, nil when it is not one.
    package func canonical(_ symbol: String) -> String? {
        switch self {
        case .dtype: return DType(name: symbol)?.name
        case .activation: return ActivationFunction(name: symbol)?.description
        case .padding:
            let u = symbol.uppercased()
            return u == "SAME" || u == "VALID" ? u : nil
        case .opKind:
            return BuiltinOperator(name: symbol)?.name
        }
    }

    /// "a dtype", "an activation".
    package var withArticle: String { (rawValue.first.map { "aeiou".contains($0) } ?? false ? "an " : "a ") + rawValue }

    package var examples: String {
        switch self {
        case .dtype: "float32, int8, int16, int32, …"
        case .activation: ActivationFunction.allCases.map(\.description).joined(separator: ", ")
        case .padding: "SAME, VALID"
        case .opKind: "CONV_2D, RELU6, …"
        }
    }
}

package indirect enum RuleType: Hashable, Sendable, CustomStringConvertible {
    case bool, int, float, string, elementType, op, tensor
    case enumeration(RuleEnum)
    case symbol(String)
    case list(RuleType)
    /// `[]`: fits any list.
    case emptyList
    /// Known only when the rule runs (e.g. values of a constant).
    case unknown

    package var description: String {
        switch self {
        case .bool: "a condition (true/false)"
        case .int: "an int"
        case .float: "a number"
        case .string: "a string"
        case .elementType: "a tensor type"
        case .op: "an op"
        case .tensor: "a tensor"
        case .enumeration(let e): e.withArticle
        case .symbol(let s): "the symbol \(s)"
        case .list(let t): "a list of \(t.plural)"
        case .emptyList: "an empty list"
        case .unknown: "a value"
        }
    }
    package var plural: String {
        switch self {
        case .int: "ints"
        case .float: "numbers"
        case .string: "strings"
        case .bool: "conditions"
        default: "values"
        }
    }
    package var isNumeric: Bool { self == .int || self == .float || self == .unknown }
    package var isList: Bool {
        switch self {
        case .list, .emptyList, .unknown: true
        default: false
        }
    }
}

// MARK: Type checker

/// What the checker knows about the names in scope.
package struct RuleScope: Sendable {
    package enum Entry: Hashable, Sendable {
        /// An op; `kinds` nil matches any op.
        case op(kinds: [BuiltinOperator]?)
        case tensor
    }
    package var entries: [String: Entry] = [:]
    /// Names bound only when an action's `when:` holds, with that condition's text.
    package var conditional: [String: String] = [:]

    package init(entries: [String: Entry] = [:], conditional: [String: String] = [:]) {
        self.entries = entries
        self.conditional = conditional
    }

    package func isBound(_ n: String) -> Bool { entries[n] != nil }
    package var sortedNames: String { entries.keys.sorted().joined(separator: ", ") }
}

package enum RuleTypeChecker {
    package static func check(_ e: RuleExpr, _ scope: RuleScope) throws -> RuleType {
        switch e {
        case .bool: return .bool
        case .int: return .int
        case .float: return .float
        case .string: return .string
        case .symbol(let s):
            if isKnownSymbol(s) { return .symbol(s) }
            var m = "unknown name '\(s)'"
            if let c = RulesFile.closest(s, in: Array(scope.entries.keys)) { m += "; did you mean '\(c)'?" }
            m += scope.entries.isEmpty ? "" : " (bound names: \(scope.sortedNames))"
            throw RuleExprError(m)
        case .name(let n):
            switch scope.entries[n] {
            case .op?: return .op
            case .tensor?: return .tensor
            case nil: throw RuleExprError("unknown name '\(n)'")
            }
        case .list(let items):
            guard let first = items.first else { return .emptyList }
            let t = try check(first, scope)
            var element = t
            for item in items.dropFirst() {
                let u = try check(item, scope)
                if u.isNumeric && element.isNumeric {
                    if u == .float { element = .float }
                } else if u != element {
                    throw RuleExprError("a list mixes \(element) and \(u)")
                }
            }
            return .list(element)
        case .property(let base, let p):
            return try property(base, p, scope)
        case .index(let base, let i):
            let b = try check(base, scope)
            let it = try check(i, scope)
            guard it == .int || it == .unknown else { throw RuleExprError("an index must be an int, got \(it)") }
            switch b {
            case .list(let t): return t
            case .unknown: return .unknown
            default: throw RuleExprError("cannot index \(b) with [ ]")
            }
        case .unary(let op, let a):
            let t = try check(a, scope)
            if op == "not" {
                guard t == .bool || t == .unknown else { throw RuleExprError("'not' needs a condition, got \(t)") }
                return .bool
            }
            guard t.isNumeric else { throw RuleExprError("cannot negate \(t)") }
            return t
        case .binary(let op, let a, let b):
            let lenient = op == "==" || op == "!="
            let ta = try lenient ? operand(a, scope) : check(a, scope)
            let tb = try lenient ? operand(b, scope) : check(b, scope)
            switch op {
            case "and", "or":
                for t in [ta, tb] where t != .bool && t != .unknown { throw RuleExprError("'\(op)' needs conditions on both sides, got \(t)") }
                return .bool
            case "==", "!=":
                try comparable(ta, tb, a, b)
                return .bool
            case "<", "<=", ">", ">=":
                guard ta.isNumeric, tb.isNumeric else { throw RuleExprError("'\(op)' compares numbers, got \(ta) and \(tb)") }
                return .bool
            case "+":
                if ta == .string && tb == .string { return .string }
                if ta.isList && tb.isList { return ta == .emptyList ? tb : ta }
                fallthrough
            default:
                guard ta.isNumeric, tb.isNumeric else { throw RuleExprError("'\(op)' needs numbers, got \(ta) and \(tb)") }
                if ta == .unknown || tb == .unknown { return .unknown }
                return ta == .float || tb == .float ? .float : .int
            }
        case .call(let f, let args):
            return try call(f, args, scope)
        }
    }

    /// An operand of `==`: a symbol is checked against what it is compared with, not here.
    package static func operand(_ e: RuleExpr, _ scope: RuleScope) throws -> RuleType {
        if case .symbol(let s) = e { return .symbol(s) }
        return try check(e, scope)
    }

    package static func isKnownSymbol(_ s: String) -> Bool {
        [RuleEnum.dtype, .activation, .padding, .opKind].contains { $0.canonical(s) != nil } || s == "none"
    }

    /// Checks that `==` between these types makes sense; a symbol must belong to the enumeration.
    package static func comparable(_ ta: RuleType, _ tb: RuleType, _ a: RuleExpr, _ b: RuleExpr) throws {
        for (t, other) in [(ta, tb), (tb, ta)] {
            if case .symbol(let s) = t, !isKnownSymbol(s) {
                if case .enumeration(let e) = other { throw RuleExprError("'\(s)' is not \(e.withArticle) (\(e.examples))") }
                throw RuleExprError("unknown name '\(s)'")
            }
        }
        if ta == .unknown || tb == .unknown { return }
        if ta.isNumeric && tb.isNumeric { return }
        switch (ta, tb) {
        case (.enumeration(let e), .symbol(let s)), (.symbol(let s), .enumeration(let e)):
            guard e.canonical(s) != nil else {
                throw RuleExprError("'\(s)' is not \(e.withArticle) (\(e.examples))")
            }
            return
        case (.enumeration(let x), .enumeration(let y)) where x == y: return
        case (.symbol, .symbol): return
        case (.list(let x), .list(let y)) where x == y || (x.isNumeric && y.isNumeric): return
        case (.list, .emptyList), (.emptyList, .list), (.emptyList, .emptyList): return
        default:
            if ta == tb { return }
            throw RuleExprError("cannot compare \(ta) with \(tb)")
        }
    }

    package static func property(_ base: RuleExpr, _ p: String, _ scope: RuleScope) throws -> RuleType {
        let bt = try check(base, scope)
        switch bt {
        case .tensor:
            guard let t = RuleProperties.tensor[p] else {
                var m = "tensors have no property '\(p)'"
                if let c = RulesFile.closest(p, in: Array(RuleProperties.tensor.keys)) { m += "; did you mean '\(c)'?" }
                throw RuleExprError(m + " (tensor properties: \(RuleProperties.tensor.keys.sorted().joined(separator: ", ")))")
            }
            return t
        case .op:
            guard case .name(let n) = base, case .op(let kinds)? = scope.entries[n] else { return .unknown }
            if let t = RuleProperties.op[p] { return t }
            return try RuleProperties.attributeType(p, kinds: kinds, opName: n)
        default:
            throw RuleExprError("\(bt) has no properties ('.\(p)')")
        }
    }

    package static func call(_ f: String, _ args: [RuleExpr], _ scope: RuleScope) throws -> RuleType {
        let types = try args.map { try check($0, scope) }
        func arity(_ n: Int) throws {
            guard args.count == n else { throw RuleExprError("\(f)() takes \(n) argument\(n == 1 ? "" : "s"), got \(args.count)") }
        }
        switch f {
        case "if":
            try arity(3)
            guard types[0] == .bool || types[0] == .unknown else { throw RuleExprError("if(): the first argument must be a condition, got \(types[0])") }
            if types[1] != types[2] && !(types[1].isNumeric && types[2].isNumeric) && types[1] != .unknown && types[2] != .unknown {
                try comparable(types[1], types[2], args[1], args[2])
            }
            return types[1] == .unknown ? types[2] : (types[1] == .int && types[2] == .float ? .float : types[1])
        case "len":
            try arity(1)
            guard types[0].isList || types[0] == .string else { throw RuleExprError("len() needs a list, got \(types[0])") }
            return .int
        case "min", "max":
            guard !args.isEmpty else { throw RuleExprError("\(f)() needs arguments") }
            if args.count == 1 {
                guard types[0].isList else { throw RuleExprError("\(f)() of one argument needs a list, got \(types[0])") }
                if case .list(let t) = types[0] { return t }
                return .unknown
            }
            for t in types where !t.isNumeric { throw RuleExprError("\(f)() needs numbers, got \(t)") }
            return types.contains(.float) ? .float : (types.contains(.unknown) ? .unknown : .int)
        case "abs":
            try arity(1)
            guard types[0].isNumeric else { throw RuleExprError("abs() needs a number, got \(types[0])") }
            return types[0]
        case "product", "sum":
            try arity(1)
            guard types[0].isList else { throw RuleExprError("\(f)() needs a list, got \(types[0])") }
            if case .list(let t) = types[0] { return t }
            return .unknown
        case "all", "any":
            // all(list, value): every element equals value.
            try arity(2)
            guard types[0].isList else { throw RuleExprError("\(f)() needs a list first, got \(types[0])") }
            return .bool
        case "starts_with", "ends_with", "contains":
            try arity(2)
            guard types[0] == .string || types[0] == .unknown || (f == "contains" && types[0].isList) else {
                throw RuleExprError("\(f)() needs a string first, got \(types[0])")
            }
            return .bool
        case "replace":
            try arity(3)
            for t in types where t != .string { throw RuleExprError("replace() needs three strings, got \(t)") }
            return .string
        case "str":
            try arity(1)
            return .string
        case "float":
            try arity(1)
            guard types[0].isNumeric else { throw RuleExprError("float() needs a number, got \(types[0])") }
            return .float
        default:
            var m = "unknown function '\(f)'"
            if let c = RulesFile.closest(f, in: RuleProperties.functions) { m += "; did you mean '\(c)'?" }
            throw RuleExprError(m + " (functions: \(RuleProperties.functions.joined(separator: ", ")))")
        }
    }
}
