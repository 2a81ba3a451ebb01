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

/// Turns a `CustomRule` (its YAML, with lines) into a validated `RuleDefinition`. Every problem
/// is a `RulesError` at the line of the offending node: unknown keys, unknown ops, names that are
/// not bound, type errors in expressions, bad permutations, ops not connected to the root,
/// rewrites writing tensors another op still writes, natives nobody registered.
package struct RuleParser {
    package let rule: CustomRule
    package var scope = RuleScope()
    /// Tensors whose rank the conditions fix (`x.rank == 4`), for checking permutations.
    package var knownRanks: [String: Int] = [:]
    /// Tensor name → the pattern op that writes it.
    package var producers: [String: String] = [:]
    /// Names the conditions (or an action's `when`) require to be constant.
    package var constantNames: Set<String> = []
    /// Tensors made by `constant:` (data, not runtime values).
    package var pendingNames: Set<String> = []
    /// Tensors made by `tensor:`.
    package var newTensors: Set<String> = []

    package static let matchKeys = ["ops", "where"]
    package static let singleMatchKeys = ["op", "inputs", "outputs", "commutative", "as", "where"]
    package static let patternKeys = ["op", "inputs", "outputs", "commutative"]
    package static let verbs = ["set", "convert", "insert", "erase", "fuse", "replace_uses", "set_input", "constant", "tensor", "call"]
    package static let reserved: Set<String> = ["and", "or", "not", "true", "false", "any", "none", "_", "..."]
    package static let arithmeticVerbs = ["multiply", "add", "subtract", "divide"]
    package static let transformKeys = ["transpose", "reshape", "slice"] + arithmeticVerbs
    package static let quantKeys = ["scale", "zero_point", "scales", "zero_points", "quant_axis"]

    package init(_ rule: CustomRule) { self.rule = rule }

    package static func parse(_ rule: CustomRule) throws -> RuleDefinition {
        var p = RuleParser(rule)
        return try p.parse()
    }

    /// A located error; quoted expressions may span lines in YAML, the message never does.
    package func fail(_ at: SourceLocation, _ m: String) -> RulesError {
        RulesError(at: at, "rule \(rule.name): \(m)".split(whereSeparator: \.isNewline).joined(separator: " "))
    }

    package func unknownKey(_ e: YAMLEntry, known: [String], in what: String) -> RulesError {
        var m = "unknown key '\(e.key)' in \(what)"
        if let s = RulesFile.closest(e.key, in: known) { m += "; did you mean '\(s)'?" }
        return fail(e.keyLocation, m + " (known keys: \(known.joined(separator: ", ")))")
    }

    package mutating func parse() throws -> RuleDefinition {
        let patterns = try parseMatch(rule.match)
        var def = RuleDefinition(name: rule.name, description: nil, location: rule.location, patterns: patterns.ordered, conditions: patterns.conditions, actions: [])
        for e in rule.node.entries ?? [] where e.key == "description" {
            def.description = e.value.scalar?.text
        }
        def.actions = try parseRewrite(rule.rewrite)
        return def
    }

    // MARK: Match

    package mutating func parseMatch(_ node: YAMLNode) throws -> (ordered: [OpPattern], conditions: [LocatedExpr]) {
        guard let entries = node.entries else {
            throw fail(node.location, "match: expected a mapping (ops: {…}, where: […], or one op's op/inputs/outputs), got \(node.kindDescription)")
        }
        var patterns: [OpPattern] = []
        var whereNode: YAMLNode?
        if entries.contains(where: { $0.key == "ops" }) {
            for e in entries {
                switch e.key {
                case "ops":
                    guard let ops = e.value.entries, !ops.isEmpty else {
                        throw fail(e.value.location, "match.ops: expected a mapping of names to op patterns, got \(e.value.kindDescription)")
                    }
                    for o in ops { patterns.append(try parsePattern(name: o.key, at: o.keyLocation, o.value, keys: Self.patternKeys)) }
                case "where": whereNode = e.value
                default: throw unknownKey(e, known: Self.matchKeys, in: "match")
                }
            }
        } else {
            guard entries.contains(where: { $0.key == "op" }) else {
                throw fail(node.location, "match: needs 'ops' (several ops) or 'op' (one op)")
            }
            var name = "root"
            var patternEntries: [YAMLEntry] = []
            for e in entries {
                switch e.key {
                case "as":
                    guard let (s, _) = e.value.scalar, !s.isEmpty else { throw fail(e.value.location, "match.as: expected a name") }
                    name = s
                case "where": whereNode = e.value
                case "op", "inputs", "outputs", "commutative": patternEntries.append(e)
                default: throw unknownKey(e, known: Self.singleMatchKeys, in: "match")
                }
            }
            patterns.append(try parsePattern(name: name, at: node.location, YAMLNode(.map(patternEntries), at: node.location), keys: Self.patternKeys))
        }
        // Bind names: ops, then the tensors they read and write.
        for p in patterns {
            try bind(p.name, .op(kinds: p.kinds), at: p.location)
        }
        for p in patterns {
            for operand in (p.inputs?.items ?? []) + (p.outputs?.items ?? []) {
                guard let n = operand.boundName else { continue }
                if case .op? = scope.entries[n] { throw fail(p.location, "'\(n)' names an op and a tensor") }
                scope.entries[n] = .tensor
            }
            for operand in p.outputs?.items ?? [] {
                guard let n = operand.boundName else { continue }
                if let other = producers[n] { throw fail(p.location, "tensor '\(n)' is written by both '\(other)' and '\(p.name)'") }
                producers[n] = p.name
            }
        }
        let ordered = try order(patterns)
        var conditions: [LocatedExpr] = []
        if let w = whereNode {
            let items = w.items ?? [w]
            for item in items {
                let e = try expression(item, what: "where")
                let t = try typeOf(e)
                guard t == .bool || t == .unknown else { throw fail(e.location, "where: '\(e.text)' is \(t), expected a condition (true/false)") }
                conditions.append(e)
                noteFacts(e.expr)
            }
        }
        return (ordered, conditions)
    }

    package mutating func bind(_ name: String, _ entry: RuleScope.Entry, at: SourceLocation) throws {
        try checkIdentifier(name, at: at)
        if scope.entries[name] != nil { throw fail(at, "'\(name)' is bound twice") }
        scope.entries[name] = entry
    }

    package func checkIdentifier(_ name: String, at: SourceLocation) throws {
        let ok = !name.isEmpty && (name.first!.isLetter || name.first == "_") && name.allSatisfy { $0.isLetter || $0.isNumber || $0 == "_" }
        guard ok, !Self.reserved.contains(name) else {
            throw fail(at, "'\(name)' cannot be a name (use letters, digits and _; not \(Self.reserved.sorted().joined(separator: ", ")))")
        }
    }

    /// Records what the conditions fix: ranks and constant-ness.
    package mutating func noteFacts(_ e: RuleExpr) {
        for c in e.conjuncts {
            if case .binary("==", .property(.name(let n), "rank"), .int(let r)) = c { knownRanks[n] = Int(r) }
        }
        var reads: [(name: String, property: String)] = []
        e.propertyReads(into: &reads)
        for r in reads where r.property == "constant" { constantNames.insert(r.name) }
    }

    package func parsePattern(name: String, at: SourceLocation, _ node: YAMLNode, keys: [String]) throws -> OpPattern {
        try checkIdentifier(name, at: at)
        guard let entries = node.entries else {
            throw fail(node.location, "op pattern '\(name)': expected a mapping like { op: CONV_2D, inputs: [x, w, b?], outputs: [y] }, got \(node.kindDescription)")
        }
        var p = OpPattern(name: name, kinds: nil, inputs: nil, outputs: nil, commutative: false, location: at)
        var sawOp = false
        for e in entries {
            switch e.key {
            case "op":
                sawOp = true
                p.kinds = try opKinds(e.value)
            case "inputs": p.inputs = try operands(e.value, what: "inputs of '\(name)'")
            case "outputs": p.outputs = try operands(e.value, what: "outputs of '\(name)'")
            case "commutative":
                guard e.value.scalar?.kind == .bool else { throw fail(e.value.location, "commutative: expected true or false") }
                p.commutative = e.value.scalar?.text == "true"
            default: throw unknownKey(e, known: keys, in: "op pattern '\(name)'")
            }
        }
        guard sawOp else { throw fail(at, "op pattern '\(name)' has no 'op' (an op name, a list of names, or any)") }
        if p.commutative, (p.inputs?.items.count ?? 0) < 2 {
            throw fail(at, "op pattern '\(name)': commutative needs at least two inputs listed")
        }
        return p
    }

    /// `CONV_2D`, `[CONV_2D, DEPTHWISE_CONV_2D]` or `any`.
    package func opKinds(_ node: YAMLNode) throws -> [BuiltinOperator]? {
        if let (s, _) = node.scalar {
            if s == "any" { return nil }
            return [try opName(s, at: node.location)]
        }
        guard let items = node.items, !items.isEmpty else { throw fail(node.location, "op: expected an op name, a list of op names, or any") }
        return try items.map { item in
            guard let (s, _) = item.scalar else { throw fail(item.location, "op: expected op names") }
            return try opName(s, at: item.location)
        }
    }

    package func opName(_ s: String, at: SourceLocation) throws -> BuiltinOperator {
        guard let op = BuiltinOperator(name: s) else {
            var m = "unknown op '\(s)'"
            let candidate = s.uppercased().replacingOccurrences(of: "-", with: "_")
            if let c = RulesFile.closest(candidate, in: BuiltinOperator.names) { m += "; did you mean '\(c)'?" }
            throw fail(at, m + " (ops are schema names such as CONV_2D, or BUILTIN_<code>)")
        }
        return op
    }

    package func operands(_ node: YAMLNode, what: String) throws -> OperandList {
        if let (s, _) = node.scalar, s == "any" { return OperandList(items: [], open: true) }
        guard let items = node.items else { throw fail(node.location, "\(what): expected a list like [x, w, b?], got \(node.kindDescription)") }
        var list = OperandList(items: [], open: false)
        var seen: Set<String> = []
        for (k, item) in items.enumerated() {
            guard let (s, _) = item.scalar, !s.isEmpty else { throw fail(item.location, "\(what): expected names, got \(item.kindDescription)") }
            if s == "..." {
                guard k == items.count - 1 else { throw fail(item.location, "\(what): '...' must come last") }
                list.open = true
                continue
            }
            let optional = s.hasSuffix("?")
            let base = optional ? String(s.dropLast()) : s
            if base == "_" {
                list.items.append(.any(optional: optional))
                continue
            }
            try checkIdentifier(base, at: item.location)
            if !seen.insert(base).inserted { throw fail(item.location, "\(what): '\(base)' is listed twice") }
            if !optional, list.items.last?.isOptional == true {
                throw fail(item.location, "\(what): '\(base)' follows an optional operand; optional ones must come last")
            }
            list.items.append(.name(base, optional: optional))
        }
        return list
    }

    /// Root first; then each op once one of its outputs is read by an op already placed.
    package func order(_ patterns: [OpPattern]) throws -> [OpPattern] {
        var ordered = [patterns[0]]
        var remaining = Array(patterns.dropFirst())
        func readNames(_ p: OpPattern) -> Set<String> { Set((p.inputs?.items ?? []).compactMap(\.boundName)) }
        var read = readNames(patterns[0])
        while !remaining.isEmpty {
            guard let k = remaining.firstIndex(where: { p in (p.outputs?.items ?? []).contains { $0.boundName.map(read.contains) ?? false } }) else {
                let p = remaining[0]
                throw fail(p.location, "op '\(p.name)' is not connected to the root '\(patterns[0].name)': none of its outputs is an input of a matched op (list the root first, then the ops feeding it)")
            }
            var p = remaining.remove(at: k)
            p.linkOutput = (p.outputs?.items ?? []).compactMap(\.boundName).first { read.contains($0) }
            read.formUnion(readNames(p))
            ordered.append(p)
        }
        return ordered
    }

    // MARK: Expressions

    package func expression(_ node: YAMLNode, what: String) throws -> LocatedExpr {
        let text: String
        let expr: RuleExpr
        switch node.content {
        case .scalar(let s, let kind):
            text = s
            switch kind {
            case .int: expr = .int(Int64(s) ?? 0)
            case .float: expr = .float(Double(s) ?? Double(s.replacingOccurrences(of: "_", with: "")) ?? 0)
            case .bool: expr = .bool(s == "true")
            case .null: throw fail(node.location, "\(what): expected a value, got nothing")
            case .string:
                do {
                    expr = try RuleExprParser.parse(s, isBound: scope.isBound)
                } catch let e as RuleExprError {
                    throw fail(node.location, "\(what): in '\(RuleExprParser.excerpt(s))': \(e.message)")
                }
            }
        case .list(let items):
            let parts = try items.map { try expression($0, what: what) }
            text = "[" + parts.map(\.text).joined(separator: ", ") + "]"
            expr = .list(parts.map(\.expr))
        case .map:
            throw fail(node.location, "\(what): expected an expression, got a mapping (quote expressions that contain ': ' or start with '{')")
        }
        return LocatedExpr(expr: expr, text: text, location: node.location)
    }

    package func typeOf(_ e: LocatedExpr) throws -> RuleType {
        do {
            return try RuleTypeChecker.check(e.expr, scope)
        } catch let x as RuleExprError {
            throw fail(e.location, "in '\(e.text)': \(x.message)")
        }
    }

    /// An expression that must have a type assignable to `want`.
    package func typedExpression(_ node: YAMLNode, what: String, want: RuleType) throws -> LocatedExpr {
        let e = try expression(node, what: what)
        if case .symbol(let s) = e.expr, case .enumeration(let en) = want {
            guard en.canonical(s) != nil else { throw fail(e.location, "\(what): '\(s)' is not \(en.withArticle) (\(en.examples))") }
            return e
        }
        let t = try typeOf(e)
        guard assignable(t, to: want, e) else { throw fail(e.location, "\(what): '\(e.text)' is \(t), expected \(want)") }
        return e
    }

    package func assignable(_ t: RuleType, to want: RuleType, _ e: LocatedExpr) -> Bool {
        if t == want || t == .unknown || want == .unknown { return true }
        switch (t, want) {
        case (.int, .float): return true
        case (.float, .int): return false
        case (.symbol(let s), .enumeration(let en)): return en.canonical(s) != nil
        case (.emptyList, .list): return true
        case (.list(let a), .list(let b)): return a == b || a == .unknown || (a == .int && b == .float)
        default: return false
        }
    }

    package func template(_ node: YAMLNode, what: String) throws -> NameTemplate {
        guard let (s, _) = node.scalar, node.scalar?.kind != .null else { throw fail(node.location, "\(what): expected a name (quote it: \"{x.name}/suffix\")") }
        var parts: [NameTemplate.Part] = []
        var literal = ""
        let chars = Array(s)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == "{" && i + 1 < chars.count && chars[i + 1] == "{" { literal.append("{"); i += 2; continue }
            if c == "}" && i + 1 < chars.count && chars[i + 1] == "}" { literal.append("}"); i += 2; continue }
            if c == "}" { throw fail(node.location, "\(what): unmatched '}' in \"\(s)\" (write }} for a brace)") }
            if c == "{" {
                guard let close = chars[(i + 1)...].firstIndex(of: "}") else { throw fail(node.location, "\(what): unclosed '{' in \"\(s)\"") }
                let inner = String(chars[(i + 1)..<close])
                let e: RuleExpr
                do {
                    e = try RuleExprParser.parse(inner, isBound: scope.isBound)
                    let t = try RuleTypeChecker.check(e, scope)
                    switch t {
                    case .string, .int, .float, .symbol, .enumeration, .unknown: break
                    default: throw RuleExprError("{\(inner)} is \(t); a name part must be a string or number")
                    }
                } catch let x as RuleExprError {
                    throw fail(node.location, "\(what): in {\(RuleExprParser.excerpt(inner))}: \(x.message)")
                }
                if !literal.isEmpty { parts.append(.text(literal)); literal = "" }
                parts.append(.expr(e))
                i = close + 1
                continue
            }
            literal.append(c)
            i += 1
        }
        if !literal.isEmpty || parts.isEmpty { parts.append(.text(literal)) }
        return NameTemplate(parts: parts, text: s, location: node.location)
    }

    // MARK: Rewrite

    package mutating func parseRewrite(_ node: YAMLNode) throws -> [RuleAction] {
        guard let items = node.items else {
            throw fail(node.location, "rewrite: expected a list of actions (\(Self.verbs.joined(separator: ", "))), got \(node.kindDescription)")
        }
        guard !items.isEmpty else { throw fail(node.location, "rewrite: the list of actions is empty") }
        var actions: [RuleAction] = []
        for item in items {
            guard let entries = item.entries, entries.count == 1, let e = entries.first else {
                throw fail(item.location, "an action is a one-key mapping such as '- erase: op' (actions: \(Self.verbs.joined(separator: ", ")))")
            }
            actions.append(try parseAction(e))
        }
        try checkWrites(actions)
        return actions
    }

    /// An inserted op may only write tensors made by `tensor:` or outputs of matched ops the
    /// rewrite erases (or fuses away): a tensor has one writer.
    package func checkWrites(_ actions: [RuleAction]) throws {
        var removed: Set<String> = []
        for a in actions {
            switch a.kind {
            case .erase(let ops): removed.formUnion(ops)
            case .fuse(let op, _): removed.insert(op)
            default: break
            }
        }
        var written: [String: SourceLocation] = [:]
        for a in actions {
            guard case .insert(_, _, _, _, let outputs, _, _) = a.kind else { continue }
            for o in outputs {
                if let first = written[o] { throw fail(a.location, "tensor '\(o)' is written by two inserted ops (the first on line \(first.line))") }
                written[o] = a.location
                if newTensors.contains(o) { continue }
                if pendingNames.contains(o) { throw fail(a.location, "insert: '\(o)' is a constant; an op cannot write it") }
                guard let producer = producers[o] else {
                    throw fail(a.location, "insert: '\(o)' is not written by a matched op; an inserted op writes tensors made by 'tensor:' or outputs of matched ops the rewrite erases")
                }
                guard removed.contains(producer) else {
                    throw fail(a.location, "insert: '\(o)' is still written by '\(producer)'; erase '\(producer)' in this rewrite or write a new tensor")
                }
            }
        }
    }

    package func requireTensor(_ n: String, at: SourceLocation, what: String) throws {
        switch scope.entries[n] {
        case .tensor?: return
        case .op?: throw fail(at, "\(what): '\(n)' is an op, expected a tensor")
        case nil:
            var m = "\(what): '\(n)' is not a bound tensor"
            let tensors = scope.entries.filter { $0.value == .tensor }.map(\.key).sorted()
            if let c = RulesFile.closest(n, in: tensors) { m += "; did you mean '\(c)'?" }
            throw fail(at, m + " (tensors: \(tensors.joined(separator: ", ")))")
        }
    }

    package func requireOp(_ n: String, at: SourceLocation, what: String) throws -> [BuiltinOperator]? {
        switch scope.entries[n] {
        case .op(let kinds)?: return kinds
        case .tensor?: throw fail(at, "\(what): '\(n)' is a tensor, expected an op")
        case nil:
            var m = "\(what): '\(n)' is not a bound op"
            let ops = scope.entries.filter { $0.value != .tensor }.map(\.key).sorted()
            if let c = RulesFile.closest(n, in: ops) { m += "; did you mean '\(c)'?" }
            throw fail(at, m + " (ops: \(ops.joined(separator: ", ")))")
        }
    }

    package func scalarName(_ node: YAMLNode, what: String) throws -> String {
        guard let (s, k) = node.scalar, k == .string, !s.isEmpty else { throw fail(node.location, "\(what): expected a name, got \(node.kindDescription)") }
        return s
    }

    /// Names of bound things an action reads: a name bound only under another `when` is an error.
    package func checkConditional(_ names: [String], when: LocatedExpr?, at: SourceLocation) throws {
        for n in names {
            guard let cond = scope.conditional[n] else { continue }
            if when?.text != cond {
                throw fail(at, "'\(n)' exists only when '\(cond)'; give this action the same 'when: \(cond)'")
            }
        }
    }

    package func names(in e: LocatedExpr) -> [String] {
        var reads: [(name: String, property: String)] = []
        e.expr.propertyReads(into: &reads)
        var out = reads.map(\.name)
        func walk(_ x: RuleExpr) {
            switch x {
            case .name(let n): out.append(n)
            case .property(let a, _), .unary(_, let a): walk(a)
            case .index(let a, let b), .binary(_, let a, let b): walk(a); walk(b)
            case .list(let l), .call(_, let l): l.forEach(walk)
            default: break
            }
        }
        walk(e.expr)
        return out
    }

    package mutating func parseAction(_ e: YAMLEntry) throws -> RuleAction {
        let at = e.keyLocation
        let verb = e.key
        guard Self.verbs.contains(verb) else {
            var m = "unknown action '\(verb)'"
            if let s = RulesFile.closest(verb, in: Self.verbs) { m += "; did you mean '\(s)'?" }
            throw fail(at, m + " (actions: \(Self.verbs.joined(separator: ", ")))")
        }
        // Scalar forms.
        if verb == "erase", e.value.scalar != nil || e.value.items != nil {
            let items = e.value.items ?? [e.value]
            let ops = try items.map { item -> String in
                let n = try scalarName(item, what: "erase")
                _ = try requireOp(n, at: item.location, what: "erase")
                return n
            }
            try checkConditional(ops, when: nil, at: at)
            return RuleAction(verb: verb, kind: .erase(ops), when: nil, location: at)
        }
        if verb == "call", let (f, _) = e.value.scalar {
            try checkNative(f, at: e.value.location)
            return RuleAction(verb: verb, kind: .call(function: f, arguments: []), when: nil, location: at)
        }
        guard let entries = e.value.entries else {
            throw fail(e.value.location, "\(verb): expected a mapping of its arguments, got \(e.value.kindDescription)")
        }
        var args: [String: YAMLEntry] = [:]
        var when: LocatedExpr?
        for a in entries {
            if a.key == "when" {
                when = try expression(a.value, what: "when")
                let t = try typeOf(when!)
                guard t == .bool || t == .unknown else { throw fail(a.value.location, "when: '\(when!.text)' is \(t), expected a condition") }
                noteFacts(when!.expr)
            } else {
                args[a.key] = a
            }
        }
        if let when { try checkConditional(names(in: when), when: nil, at: when.location) }
        let helper = ArgumentReader(parser: self, verb: verb, entries: entries, args: args, at: at)
        func allow(_ keys: [String]) throws { try helper.allow(keys) }
        func need(_ key: String) throws -> YAMLNode { try helper.need(key) }
        var bound: String?
        let kind: RuleAction.Kind
        switch verb {
        case "set":
            var targets: [SetTarget] = []
            for a in entries where a.key != "when" {
                let parts = a.key.split(separator: ".", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { throw fail(a.keyLocation, "set: '\(a.key)' should be name.field, e.g. p.fused_activation or y.name") }
                let (n, field) = (parts[0], parts[1])
                switch scope.entries[n] {
                case .op(let kinds)?:
                    let want: RuleType
                    if field == "version" {
                        want = .int
                    } else {
                        do {
                            want = try RuleProperties.attributeType(field, kinds: kinds, opName: n)
                        } catch let x as RuleExprError {
                            throw fail(a.keyLocation, "set: \(x.message)")
                        }
                        if RuleProperties.attributes.first(where: { $0.name == field })?.settable == false {
                            throw fail(a.keyLocation, "set: '\(field)' can be read but not written")
                        }
                    }
                    let v = try typedExpression(a.value, what: "set \(a.key)", want: want)
                    try checkConditional([n] + names(in: v), when: when, at: a.keyLocation)
                    targets.append(SetTarget(name: n, field: field, isOp: true, value: .expr(v), location: a.keyLocation))
                case .tensor?:
                    guard let want = RuleProperties.settableTensorFields[field] else {
                        throw fail(a.keyLocation, "set: tensors have no settable field '\(field)' (fields: \(RuleProperties.settableTensorFields.keys.sorted().joined(separator: ", ")))")
                    }
                    try checkConditional([n], when: when, at: a.keyLocation)
                    if field == "name" {
                        targets.append(SetTarget(name: n, field: field, isOp: false, value: .template(try template(a.value, what: "set \(a.key)")), location: a.keyLocation))
                    } else {
                        let v = try typedExpression(a.value, what: "set \(a.key)", want: want)
                        targets.append(SetTarget(name: n, field: field, isOp: false, value: .expr(v), location: a.keyLocation))
                    }
                case nil:
                    throw fail(a.keyLocation, "set: '\(n)' is not bound (bound names: \(scope.sortedNames))")
                }
            }
            guard !targets.isEmpty else { throw fail(at, "set: nothing to set") }
            kind = .set(targets)
        case "convert":
            try allow(["op", "to", "attributes", "version", "custom_code"])
            let n = try scalarName(try need("op"), what: "convert.op")
            _ = try requireOp(n, at: args["op"]!.value.location, what: "convert")
            guard let (toName, _) = try need("to").scalar else { throw fail(args["to"]!.value.location, "convert.to: expected an op name") }
            let to = try opName(toName, at: args["to"]!.value.location)
            let code = try customCode(args["custom_code"], op: to)
            let attrs = try attributes(args["attributes"], op: to, when: when)
            let version = try versionSpec(args["version"], allowKeep: true)
            try checkConditional([n], when: when, at: at)
            scope.entries[n] = .op(kinds: [to])
            kind = .convert(op: n, to: to, customCode: code, attributes: attrs, version: version)
        case "insert":
            try allow(["bind", "op", "inputs", "outputs", "attributes", "version", "custom_code"])
            guard let (opText, _) = try need("op").scalar else { throw fail(args["op"]!.value.location, "insert.op: expected an op name") }
            let op = try opName(opText, at: args["op"]!.value.location)
            let code = try customCode(args["custom_code"], op: op)
            var inputs: [String?] = []
            if let i = args["inputs"] {
                guard let items = i.value.items else { throw fail(i.value.location, "insert.inputs: expected a list of tensor names (none for an omitted input)") }
                for item in items {
                    let n = try scalarName(item, what: "insert.inputs")
                    if n == "none" { inputs.append(nil); continue }
                    try requireTensor(n, at: item.location, what: "insert.inputs")
                    inputs.append(n)
                }
            }
            guard let o = args["outputs"]?.value.items, !o.isEmpty else { throw fail(args["outputs"]?.value.location ?? at, "insert: needs outputs (a list of tensor names)") }
            let outputs = try o.map { item -> String in
                let n = try scalarName(item, what: "insert.outputs")
                try requireTensor(n, at: item.location, what: "insert.outputs")
                return n
            }
            try checkConditional(inputs.compactMap { $0 } + outputs, when: when, at: at)
            let attrs = try attributes(args["attributes"], op: op, when: when)
            let version = try versionSpec(args["version"], allowKeep: false)
            if let b = args["bind"] {
                let n = try scalarName(b.value, what: "insert.bind")
                try bind(n, .op(kinds: [op]), at: b.value.location)
                bound = n
            }
            kind = .insert(bind: bound, op: op, customCode: code, inputs: inputs, outputs: outputs, attributes: attrs, version: version)
        case "erase":
            try allow(["ops"])
            let items = try need("ops").items ?? [args["ops"]!.value]
            let ops = try items.map { item -> String in
                let n = try scalarName(item, what: "erase")
                _ = try requireOp(n, at: item.location, what: "erase")
                return n
            }
            try checkConditional(ops, when: when, at: at)
            kind = .erase(ops)
        case "fuse":
            try allow(["op", "into"])
            let op = try scalarName(try need("op"), what: "fuse.op")
            _ = try requireOp(op, at: args["op"]!.value.location, what: "fuse.op")
            let into = try scalarName(try need("into"), what: "fuse.into")
            _ = try requireOp(into, at: args["into"]!.value.location, what: "fuse.into")
            guard op != into else { throw fail(at, "fuse: an op cannot be fused into itself") }
            try checkConditional([op, into], when: when, at: at)
            kind = .fuse(op: op, into: into)
        case "replace_uses":
            try allow(["of", "with"])
            let of = try scalarName(try need("of"), what: "replace_uses.of")
            try requireTensor(of, at: args["of"]!.value.location, what: "replace_uses.of")
            let with = try scalarName(try need("with"), what: "replace_uses.with")
            try requireTensor(with, at: args["with"]!.value.location, what: "replace_uses.with")
            try checkConditional([of, with], when: when, at: at)
            kind = .replaceUses(of: of, with: with)
        case "set_input":
            try allow(["op", "index", "tensor", "in_place"])
            let op = try scalarName(try need("op"), what: "set_input.op")
            _ = try requireOp(op, at: args["op"]!.value.location, what: "set_input")
            let index = try typedExpression(try need("index"), what: "set_input.index", want: .int)
            if case .int(let k) = index.expr, k < 0 { throw fail(index.location, "set_input.index: must be 0 or more") }
            let tn = try scalarName(try need("tensor"), what: "set_input.tensor")
            var tensor: String?
            if tn != "none" {
                try requireTensor(tn, at: args["tensor"]!.value.location, what: "set_input.tensor")
                tensor = tn
            }
            var inPlace = false
            if let ip = args["in_place"] {
                guard ip.value.scalar?.kind == .bool else { throw fail(ip.value.location, "set_input.in_place: expected true or false") }
                inPlace = ip.value.scalar?.text == "true"
                if inPlace, let t = tensor, !pendingNames.contains(t) {
                    throw fail(ip.value.location, "set_input.in_place: '\(t)' is not a constant made by this rewrite")
                }
            }
            try checkConditional([op] + (tensor.map { [$0] } ?? []), when: when, at: at)
            kind = .setInput(op: op, index: index, tensor: tensor, inPlace: inPlace)
        case "constant":
            kind = try parseConstant(args, at: at, when: when, reader: helper)
            if case .constant(let b, _, _, _, _) = kind { bound = b }
        case "tensor":
            try allow(["bind", "like", "dtype", "shape", "name"] + Self.quantKeys)
            let b = try scalarName(try need("bind"), what: "tensor.bind")
            var like: String?
            if let l = args["like"] {
                let n = try scalarName(l.value, what: "tensor.like")
                try requireTensor(n, at: l.value.location, what: "tensor.like")
                like = n
            }
            let dtype = try args["dtype"].map { try dtypeName($0.value) }
            let shape = try args["shape"].map { try typedExpression($0.value, what: "tensor.shape", want: .list(.int)) }
            if like == nil && (dtype == nil || shape == nil) { throw fail(at, "tensor: give 'like: <tensor>' or both 'dtype' and 'shape'") }
            let name = try args["name"].map { try template($0.value, what: "tensor.name") }
            let quant = try quantization(args)
            try checkConditional(like.map { [$0] } ?? [], when: when, at: at)
            try bind(b, .tensor, at: args["bind"]!.value.location)
            newTensors.insert(b)
            bound = b
            kind = .tensor(bind: b, like: like, dtype: dtype, shape: shape, name: name, quantization: quant)
        case "call":
            try allow(["function", "args"])
            let f = try scalarName(try need("function"), what: "call.function")
            try checkNative(f, at: args["function"]!.value.location)
            var arguments: [LocatedExpr] = []
            if let a = args["args"] {
                let items = a.value.items ?? [a.value]
                for item in items {
                    let x = try expression(item, what: "call.args")
                    _ = try typeOf(x)
                    arguments.append(x)
                }
            }
            try checkConditional(arguments.flatMap(names), when: when, at: at)
            kind = .call(function: f, arguments: arguments)
        default:
            throw fail(at, "unknown action '\(verb)'")
        }
        if let bound, let when { scope.conditional[bound] = when.text }
        return RuleAction(verb: verb, kind: kind, when: when, location: at)
    }

    package func checkNative(_ f: String, at: SourceLocation) throws {
        guard NativeRewriteRegistry.function(f) == nil else { return }
        let names = NativeRewriteRegistry.names
        var m = "unknown native function '\(f)'"
        if let c = RulesFile.closest(f, in: names) { m += "; did you mean '\(c)'?" }
        throw fail(at, m + " (registered: \(names.isEmpty ? "none" : names.joined(separator: ", ")); register it with NativeRewriteRegistry.register before loading the rules)")
    }

    package func dtypeName(_ node: YAMLNode) throws -> DType {
        guard let (s, _) = node.scalar, let t = DType(name: s) else {
            throw fail(node.location, "dtype: expected a tensor type such as float32, int8, int32, got \(node.kindDescription)")
        }
        return t
    }

    package func customCode(_ entry: YAMLEntry?, op: BuiltinOperator) throws -> String? {
        guard let entry else {
            if op == .custom { throw fail(SourceLocation(file: rule.location.file, line: rule.location.line), "a CUSTOM op needs custom_code") }
            return nil
        }
        guard op == .custom else { throw fail(entry.keyLocation, "custom_code applies to CUSTOM ops only") }
        return try scalarName(entry.value, what: "custom_code")
    }

    package func versionSpec(_ entry: YAMLEntry?, allowKeep: Bool) throws -> VersionSpec {
        guard let entry else { return .minimum }
        if let (s, k) = entry.value.scalar, k == .string {
            if s == "minimum" { return .minimum }
            if s == "keep" && allowKeep { return .keep }
        }
        let e = try typedExpression(entry.value, what: "version", want: .int)
        return .fixed(e)
    }

    package func attributes(_ entry: YAMLEntry?, op: BuiltinOperator, when: LocatedExpr?) throws -> [AttributeSetting] {
        guard let entry else { return [] }
        guard let items = entry.value.entries else { throw fail(entry.value.location, "attributes: expected a mapping of attribute names to values") }
        return try items.map { a in
            guard let attr = RuleProperties.attributes(of: op).first(where: { $0.name == a.key }), attr.settable else {
                var m = "\(op.name) has no attribute '\(a.key)'"
                let names = RuleProperties.attributes(of: op).map(\.name)
                if let c = RulesFile.closest(a.key, in: names) { m += "; did you mean '\(c)'?" }
                throw fail(a.keyLocation, m + " (\(RuleProperties.attributeNames(of: op)))")
            }
            let v = try typedExpression(a.value, what: "attribute \(a.key)", want: attr.type)
            try checkConditional(names(in: v), when: when, at: a.keyLocation)
            return AttributeSetting(name: a.key, value: v)
        }
    }

    package func quantization(_ args: [String: YAMLEntry]) throws -> [QuantSetting] {
        try Self.quantKeys.compactMap { key in
            guard let a = args[key] else { return nil }
            let want = RuleProperties.settableTensorFields[key]!
            return QuantSetting(field: key, value: try typedExpression(a.value, what: key, want: want))
        }
    }

    package mutating func parseConstant(_ args: [String: YAMLEntry], at: SourceLocation, when: LocatedExpr?, reader: ArgumentReader) throws -> RuleAction.Kind {
        func need(_ key: String) throws -> YAMLNode { try reader.need(key) }
        try reader.allow(["bind", "from", "fill", "values", "dtype", "shape", "name"] + Self.transformKeys + Self.quantKeys)
        let b = try scalarName(try need("bind"), what: "constant.bind")
        let sources = ["from", "fill", "values"].filter { args[$0] != nil }
        guard sources.count == 1 else {
            throw fail(at, "constant: give exactly one of from (a tensor), fill (a value with dtype and shape) or values (a list with dtype)")
        }
        let source: ConstantSource
        var referenced: [String] = []
        var fromName: String?
        switch sources[0] {
        case "from":
            let n = try scalarName(args["from"]!.value, what: "constant.from")
            try requireTensor(n, at: args["from"]!.value.location, what: "constant.from")
            if !pendingNames.contains(n) && !constantNames.contains(n) {
                throw fail(args["from"]!.value.location, "constant.from: the match does not require '\(n)' to be a constant; add '\(n).constant' to where (or to this action's when)")
            }
            for k in ["dtype", "shape"] where args[k] != nil { throw fail(args[k]!.keyLocation, "constant: '\(k)' does not go with 'from' (the data keeps its own)") }
            referenced.append(n)
            fromName = n
            source = .from(n)
        case "fill":
            guard let d = args["dtype"], let s = args["shape"] else { throw fail(at, "constant: fill needs dtype and shape") }
            let v = try typedExpression(args["fill"]!.value, what: "constant.fill", want: .float)
            source = .fill(v, dtype: try dtypeName(d.value), shape: try typedExpression(s.value, what: "constant.shape", want: .list(.int)))
        default:
            guard let d = args["dtype"] else { throw fail(at, "constant: values needs a dtype") }
            let v = try typedExpression(args["values"]!.value, what: "constant.values", want: .list(.float))
            source = .values(v, dtype: try dtypeName(d.value), shape: try args["shape"].map { try typedExpression($0.value, what: "constant.shape", want: .list(.int)) })
        }
        let transforms = Self.transformKeys.filter { args[$0] != nil }
        guard transforms.count <= 1 else {
            throw fail(args[transforms[1]]!.keyLocation, "constant: one transform per constant (\(transforms.joined(separator: " and "))); chain them through another constant (from: \(b))")
        }
        var transform: ConstantTransform?
        if let t = transforms.first {
            let node = args[t]!.value
            switch t {
            case "transpose":
                let perm = try typedExpression(node, what: "transpose", want: .list(.int))
                if case .list(let items) = perm.expr {
                    let ints = items.compactMap { item -> Int? in if case .int(let n) = item { return Int(n) } else { return nil } }
                    if ints.count == items.count {
                        guard ints.sorted() == Array(0..<ints.count) else {
                            throw fail(perm.location, "transpose: \(perm.text) is not a permutation of 0..\(ints.count - 1)")
                        }
                        if let f = fromName, let r = knownRanks[f], r != ints.count {
                            throw fail(perm.location, "transpose: \(perm.text) has \(ints.count) entries but '\(f)' has rank \(r) (from the match's conditions)")
                        }
                    }
                }
                transform = .transpose(perm)
            case "reshape":
                transform = .reshape(try typedExpression(node, what: "reshape", want: .list(.int)))
            case "slice":
                guard let entries = node.entries else { throw fail(node.location, "slice: expected { axis: A, start: S, end: E }") }
                var got: [String: LocatedExpr] = [:]
                for e in entries {
                    guard ["axis", "start", "end"].contains(e.key) else { throw unknownKey(e, known: ["axis", "start", "end"], in: "slice") }
                    got[e.key] = try typedExpression(e.value, what: "slice.\(e.key)", want: .int)
                }
                guard let axis = got["axis"], let start = got["start"], let end = got["end"] else { throw fail(node.location, "slice: needs axis, start and end") }
                transform = .slice(axis: axis, start: start, end: end)
            default:
                var byNode = node
                var axis: LocatedExpr?
                if let entries = node.entries {
                    var by: YAMLNode?
                    for e in entries {
                        switch e.key {
                        case "by": by = e.value
                        case "axis": axis = try typedExpression(e.value, what: "\(t).axis", want: .int)
                        default: throw unknownKey(e, known: ["by", "axis"], in: t)
                        }
                    }
                    guard let by else { throw fail(node.location, "\(t): needs 'by' (a constant tensor or a number)") }
                    byNode = by
                }
                if let (s, k) = byNode.scalar, k == .string, scope.entries[s] == .tensor {
                    if !pendingNames.contains(s) && !constantNames.contains(s) {
                        throw fail(byNode.location, "\(t).by: the match does not require '\(s)' to be a constant; add '\(s).constant' to where")
                    }
                    referenced.append(s)
                    transform = .arithmetic(t, by: .tensor(s), axis: axis)
                } else {
                    transform = .arithmetic(t, by: .scalar(try typedExpression(byNode, what: "\(t).by", want: .float)), axis: axis)
                }
            }
        }
        let name = try args["name"].map { try template($0.value, what: "constant.name") }
        if name == nil, fromName == nil { throw fail(at, "constant: a constant made from fill or values needs a name") }
        let quant = try quantization(args)
        try checkConditional(referenced, when: when, at: at)
        try bind(b, .tensor, at: args["bind"]!.value.location)
        pendingNames.insert(b)
        constantNames.insert(b)
        return .constant(bind: b, source: source, transform: transform, name: name, quantization: quant)
    }
}

/// Checks an action's argument keys (a copy of the parser, so it can be used while the parser mutates).
package struct ArgumentReader {
    package let parser: RuleParser
    package let verb: String
    package let entries: [YAMLEntry]
    package let args: [String: YAMLEntry]
    package let at: SourceLocation

    package func allow(_ keys: [String]) throws {
        for a in entries where a.key != "when" && !keys.contains(a.key) {
            throw parser.unknownKey(a, known: keys + ["when"], in: verb)
        }
    }

    package func need(_ key: String) throws -> YAMLNode {
        guard let a = args[key] else { throw parser.fail(at, "\(verb): missing '\(key)'") }
        return a.value
    }
}
